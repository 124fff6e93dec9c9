"""Realistic bugs, put into a temporary copy of the code one at a time: does the test suite catch each?

For every mutation: copy the repository's code and tests to a scratch folder, replace one exact snippet in one
file (the snippet must occur exactly once, so a mutation that no longer applies is reported, not silently
skipped), run the tests named for it, and record "caught" when pytest fails. Not part of CI (minutes).

    python scripts/mutations.py                 # every mutation, a table at the end
    python scripts/mutations.py --only fa_gdn   # some of them (comma-separated names)
    python scripts/mutations.py --e2e           # the end-to-end PSNR regression alone, for each
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

REPO = Path(__file__).resolve().parents[1]
COPY = ("fdr", "stages", "tests", "reports/paper", "params.yaml", "dvc.yaml", "pyproject.toml", "profiles",
        ".dvcignore")


class Mutation(NamedTuple):
    name: str
    file: str
    old: str
    new: str
    tests: tuple  # test files (or node ids) that should catch it


M = Mutation
MUTATIONS = [
    # model wiring (paper §3)
    M("fa_forward_gdn", "fdr/models/blocks.py", "GDN(channels, inverse=True)", "GDN(channels)",
      ("tests/models/test_golden_forward.py",)),
    M("no_global_residual", "fdr/models/fdrnet.py", "y = x + self.tail(h)", "y = self.tail(h)",
      ("tests/models/test_golden_forward.py",)),
    M("no_mirror_skips", "fdr/models/fdrnet.py", "h = h + fd_outs[-1 - j]", "h = h", ("tests/models/test_golden_forward.py",)),
    M("gdn_transposed", "fdr/models/gdn.py", "gamma = self.gamma_param(self.gamma.float()).reshape(c, c, 1, 1)",
      "gamma = self.gamma_param(self.gamma.float()).t().reshape(c, c, 1, 1)", ("tests/models/test_golden_forward.py",)),
    M("no_res_stream", "fdr/models/fdrnet.py", "res = self.relu(self.t1(f) + res)", "res = self.relu(self.t1(f))",
      ("tests/models/test_golden_forward.py",)),
    M("resblock_no_skip", "fdr/models/blocks.py", "return x + self.body(x)", "return self.body(x)",
      ("tests/models/test_golden_forward.py",)),
    M("dncnn_sign", "fdr/models/dncnn.py", "y = x - self.body(x)", "y = x + self.body(x)",
      ("tests/models/test_golden_forward.py",)),
    M("owan_softmax_dim", "fdr/models/owan.py", "F.softmax(y.view(-1, self.layers, N_OPS), dim=-1)",
      "F.softmax(y.view(-1, self.layers, N_OPS), dim=1)", ("tests/models/test_golden_forward.py",)),
    M("fdm_out_wrong_layer", "fdr/models/fdrnet.py", 'feats["fdm_out"].append(d[-1])', 'feats["fdm_out"].append(d[0])',
      ("tests/models/test_golden_forward.py",)),
    # loss and training
    M("svdo_no_grad", "fdr/train/losses.py", "with torch.set_grad_enabled(torch.is_grad_enabled() and beta > 0):",
      "with torch.no_grad():", ("tests/train/test_losses.py",)),
    M("svdo_readings_swapped", "fdr/train/losses.py", "(spread ** 2 if squared else spread)",
      "(spread if squared else spread ** 2)", ("tests/train/test_losses.py",)),
    M("abdnet_scale_lost", "fdr/train/losses.py", '"abdnet": (False, False, ABDNET_BATCH)', '"abdnet": (False, False, 1)',
      ("tests/train/test_losses.py",)),
    M("lr_never_decays", "fdr/train/trainer.py", "step_size=tc.lr_step, gamma=tc.lr_decay", "step_size=tc.lr_step, gamma=1.0",
      ("tests/train/test_train.py",)),
    M("scheduler_not_resumed", "fdr/train/checkpoint.py", 'scheduler.load_state_dict(state["scheduler"])', "pass",
      ("tests/train/test_train.py",)),
    M("optimizer_not_resumed", "fdr/train/checkpoint.py", 'optimizer.load_state_dict(state["optimizer"])', "pass",
      ("tests/train/test_train.py",)),
    M("no_zero_grad", "fdr/train/trainer.py", "    optimizer.zero_grad(set_to_none=True)\n", "",
      ("tests/train/test_train.py",)),
    M("batch_order_ignores_epoch", "fdr/data/dataset.py", "sampler.set_epoch(epoch)", "sampler.set_epoch(0)",
      ("tests/train/test_train.py",)),
    M("validates_on_training_set", "fdr/train/trainer.py", "patches / run.train_set, patches / run.val_set",
      "patches / run.train_set, patches / run.train_set", ("tests/train/test_train.py",)),
    # evaluation and restore
    M("evaluation_in_train_mode", "fdr/evaluate/patches.py", "    model.eval()\n", "", ("tests/evaluate/test_evaluate.py",)),
    M("restore_bgr", "fdr/evaluate/restore.py", "out[rows] = quantize(block)", "out[rows] = quantize(block)[..., ::-1]",
      ("tests/evaluate/test_restore.py",)),
    M("restore_writes_input", "fdr/commands/restore.py",
      "out = restore_array(model, image, args.tile, args.overlap, device, bar.update)", "out = image",
      ("tests/evaluate/test_restore.py",)),
    M("psnr_without_eps_clip", "fdr/evaluate/metrics.py", "out, gt = _prepare(out, gt)\n    mse", "mse",
      ("tests/evaluate/test_metrics.py",)),
    # data
    M("noise_sigma_sliver", "fdr/data/degrade.py",
      "noise = cfg.noise_sigma_step * (m - 1) + float(rng.random()) * cfg.noise_sigma_step",
      "noise = cfg.noise_sigma_step * (m - 1) + float(rng.random()) * 0.1 * cfg.noise_sigma_step",
      ("tests/data/test_distributions.py",)),
    M("triple_draw_biased", "fdr/data/degrade.py", "triple = triples[int(rng.integers(len(triples)))]",
      "triple = triples[int(rng.integers(len(triples) // 2))]", ("tests/data/test_distributions.py",)),
    M("motion_blur_vertical", "fdr/data/rain_motion.py", 'k = line_kernel(p.length, p.angle, direction="horizontal")',
      'k = line_kernel(p.length, p.angle, direction="vertical")', ("tests/data/test_distributions.py",)),
    M("noise_before_blur", "fdr/data/degrade.py",
      "y = blur_planar(x, params.blur_sigma, cfg.kernel_size, gain=255.0,",
      "y = blur_planar(x, 0.0, cfg.kernel_size, gain=255.0,", ("tests/data/test_data_degrade.py",)),
    M("crop_differs_for_input_and_target", "fdr/data/dataset.py", "b = b[y:y + self.crop, x:x + self.crop]",
      "b = b[x:x + self.crop, y:y + self.crop]", ("tests/data/test_data_pipeline.py", "tests/train/test_train.py")),
    # extraction
    M("zip_backslash_names", "fdr/data/extract.py", 'norm = name.replace("\\\\", "/")', "norm = name",
      ("tests/data/test_extract_guards.py",)),
    M("zip_drive_letters", "fdr/data/extract.py", ' or (len(norm) > 1 and norm[1] == ":")', "",
      ("tests/data/test_extract_guards.py",)),
    M("tar_links_allowed", "fdr/data/extract.py", "if m.issym() or m.islnk():", "if False:",
      ("tests/data/test_extract_guards.py",)),
    # bad inputs and faults: nothing lost, nothing left behind
    M("download_past_the_pinned_size", "fdr/data/download.py", "if size is not None and got + len(block) > size:",
      "if False:", ("tests/data/test_download.py::test_a_server_sending_more_than_the_pinned_size_is_cut_off",)),
    M("download_without_deadline", "fdr/data/download.py", "if time.monotonic() > stop_at:\n                    raise",
      "if False:\n                    raise", ("tests/data/test_download.py::test_a_trickling_server_is_stopped_at_the_deadline_and_the_part_kept",)),
    M("failed_archive_kept", "fdr/data/sources.py", "        path.unlink(missing_ok=True)\n", "",
      ("tests/data/test_download.py::test_an_archive_that_does_not_extract_is_deleted_and_fetched_again",)),
    M("extraction_ratio_ignored", "fdr/data/sources.py",
      "limit = min(d.max_extract_bytes, int(d.max_extract_ratio * path.stat().st_size))", "limit = d.max_extract_bytes",
      ("tests/data/test_download.py::test_an_archive_declaring_far_more_than_its_size_is_refused_before_writing",)),
    M("files_private_regardless_of_umask", "fdr/atomic.py", "            public_mode(tmp)\n", "",
      ("tests/pipeline/test_leftovers.py",)),
    M("pool_workers_outlive_their_parent", "fdr/data/synthesize.py", "    _die_with_parent()\n", "",
      ("tests/pipeline/test_leftovers.py::test_pool_workers_end_with_a_killed_synthesis",)),
    M("eigensolver_error_raw", "fdr/train/trainer.py", "except torch.linalg.LinAlgError as exc:", "except ValueError as exc:",
      ("tests/train/test_train.py::test_diverging_run_stops_with_a_training_error_naming_the_iteration",)),
    # disentanglement probe
    M("probe_trains_on_its_test_patches", "fdr/analysis/probe.py", "train, test = patch % 2 != fold, patch % 2 == fold",
      "train, test = patch >= 0, patch % 2 == fold", ("tests/analysis/test_probe.py",)),
    M("probe_reads_the_wrong_phase", "fdr/analysis/probe.py", 'after=f["fdm_out"][0]', 'after=f["fdm_out"][-1]',
      ("tests/analysis/test_probe.py",)),
    # whole-image evaluation (Table 2)
    M("whole_images_tiled", "fdr/evaluate/whole.py",
      "out = to_float(inp) if model is None else to_images(model(from_images(inp[None], device)))[0]",
      "out = to_float(inp) if model is None else np.concatenate([to_images(model(from_images(inp[None, :, j:j + 16], "
      "device)))[0] for j in range(0, inp.shape[1], 16)], axis=1)",
      ("tests/evaluate/test_evaluate_whole.py",)),
    M("whole_subset_prefix", "fdr/evaluate/whole.py", "rows = table.iloc[subset_indices(len(table), max_images)]",
      "rows = table.iloc[: max_images or len(table)]", ("tests/evaluate/test_evaluate_whole.py",)),
    M("table2_per_patch", "fdr/report/comparison.py", 'WHOLE_SETS = {"table2": {"didhy": "didhy" + IMAGE_SUFFIX}, ',
      "WHOLE_SETS = {", ("tests/evaluate/test_evaluate_whole.py",)),
    # Tables 3-6 as the paper scores them; the conventions Tables 3-4 cite
    M("table5_per_patch", "fdr/report/comparison.py", '"table5": {"didhy": "didhy" + IMAGE_SUFFIX},', "",
      ("tests/evaluate/test_evaluate_whole.py",)),
    M("tables_3_4_owan_metric", "fdr/report/comparison.py", 'CITED_CONVENTION = {"table3": "srn", "table4": "spanet"}',
      "CITED_CONVENTION = {}", ("tests/evaluate/test_evaluate_whole.py",)),
    M("whole_without_cited_convention", "fdr/evaluate/whole.py", "extra=track_metrics(t))", "extra=None)",
      ("tests/evaluate/test_evaluate_whole.py",)),
    M("ablation_effects_per_patch", "fdr/report/effects.py",
      "s = whole if all(whole in per_patch.get(r, {}) for r in (run, reference)) else patches", "s = patches",
      ("tests/evaluate/test_evaluate_whole.py",)),
    M("srn_ssim_per_colour_plane", "fdr/evaluate/metrics.py", "for axis in range(x.ndim):",
      "for axis in range(x.ndim - 1):", ("tests/evaluate/test_metrics.py",)),
    M("srn_output_rounded", "fdr/evaluate/metrics.py", "return np.floor(out * 255.0), np.round(gt * 255.0)",
      "return np.round(out * 255.0), np.round(gt * 255.0)", ("tests/evaluate/test_metrics.py",)),
    M("spanet_ssim_range_one", "fdr/evaluate/metrics.py", "SKIMAGE_FLOAT_SSIM_RANGE = 2.0", "SKIMAGE_FLOAT_SSIM_RANGE = 1.0",
      ("tests/evaluate/test_metrics.py",)),
    # the dual residual phase (DuRN-P)
    M("durn_p_without_inner_join", "fdr/models/fdrnet.py", "f = self.relu(f + x)", "f = f",
      ("tests/models/test_golden_forward.py",)),
    M("durn_p_without_relu_after_t2", "fdr/models/fdrnet.py", "x = self.relu(x)  # DuRB_p", "x = x  # DuRB_p",
      ("tests/models/test_golden_forward.py",)),
    M("phase_not_in_fingerprint", "fdr/train/checkpoint.py",
      '"settings": to_dict(model_cfg) if model_cfg is not None else None,', '"settings": None,',
      ("tests/train/test_checkpoint.py",)),
    # released OWAN weights
    M("owan_import_ignores_positions", "fdr/models/owan_release.py", "if s and i % 2 == parity:", "if s:",
      ("tests/models/test_owan_release.py",)),
    M("owan_import_skips_unknown_tensors", "fdr/models/owan_release.py", "if name is None or name not in own:",
      "if name is None or name not in own:\n            continue\n        if False:", ("tests/models/test_owan_release.py",)),
    M("owan_import_pin_ignored", "fdr/models/owan_release.py", "if pin and digest != pin.lower():", "if False:",
      ("tests/models/test_owan_release.py",)),
    M("imported_row_answers_in_place_of_the_trained", "fdr/config/runs.py",
      'role(cfg, n) != "replica" and not cfg.runs[n].weights}', 'role(cfg, n) != "replica"}',
      ("tests/models/test_owan_release.py",)),
    M("paper_profile_default_svdo", "profiles/paper.yaml", "train.svdo: literal ", "train.svdo: unsquared ",
      ("tests/config/test_paper_profile_scoring.py",)),
    M("imported_row_trained", "stages/train.py", "if args.run in cfg.runs and cfg.runs[args.run].weights:", "if False:",
      ("tests/models/test_owan_release.py",)),
    # training options (train.amp on CPU, train.compile)
    M("bf16_cpu_ignored", "fdr/train/trainer.py", 'AMP_DTYPES.get(tc.amp) if cuda or tc.amp == "bf16" else None',
      "AMP_DTYPES.get(tc.amp) if cuda else None", ("tests/train/test_train.py::test_bf16_autocast_applies_on_cpu",)),
    M("compile_ignored", "fdr/train/trainer.py", "self.net = torch.compile(self.net)", "self.net = self.net",
      ("tests/train/test_train.py::test_compiled_training_matches_eager_within_float_tolerance_and_repeats",)),
    M("compile_no_fallback", "fdr/train/trainer.py", "except torch._dynamo.exc.TorchDynamoException as exc:",
      "except torch.linalg.LinAlgError as exc:",
      ("tests/train/test_train.py::test_a_compile_failure_falls_back_to_eager_before_any_weight_changes",)),
    # resuming under dvc exp run (fdr/train/resume.py)
    M("resume_ignores_kept_state", "fdr/train/trainer.py", "for path in (self.path, resume.checkpoint(self.resume_state)):",
      "for path in (self.path,):",
      ("tests/train/test_train.py::test_a_checkpoint_deleted_with_its_output_resumes_from_the_kept_state",)),
    M("temp_copy_keeps_its_own_state", "fdr/train/resume.py",
      "return Path(*parts[:i]).joinpath(path.relative_to(root))", "return path",
      ("tests/train/test_train.py::test_kept_states_are_bounded_and_an_experiment_copy_keeps_them_in_the_workspace",
       "tests/pipeline/test_exp_resume.py")),
    M("kept_states_unbounded", "fdr/train/resume.py", "    for old in others[KEEP - 1:]:", "    for old in others[99:]:",
      ("tests/train/test_train.py::test_kept_states_are_bounded_and_an_experiment_copy_keeps_them_in_the_workspace",)),
    M("params_rewritten_under_training_ignored", "fdr/train/trainer.py", "        if self.watch is None:\n            return",
      "        if True:\n            return",
      ("tests/train/test_train_resume.py::test_a_parameter_file_rewritten_under_a_running_stage_stops_it_naming_the_key",)),
    # checkpoints that would exhaust memory
    M("checkpoint_archive_unchecked", "fdr/train/checkpoint.py", "    check_archive(path)\n    try:", "    try:",
      ("tests/train/test_checkpoint.py::test_a_small_file_declaring_a_large_tensor_is_refused_before_loading",)),
    M("checkpoint_config_unchecked", "fdr/train/checkpoint.py",
      '    check_model_size(state["model_name"], cfg, str(path), state["model"])\n', "",
      ("tests/train/test_checkpoint.py::test_a_stored_configuration_unlike_the_weights_is_refused_before_building",)),
    # your own images (data.source: folder) and what the data stages refuse
    M("user_folder_inside_outputs", "fdr/data/sources.py", "        folder.check_apart(d.folder, root)", "        pass",
      ("tests/data/test_folder_source.py::test_a_user_folder_inside_what_the_pipeline_writes_is_refused_before_anything_is_touched",)),
    M("same_image_in_both_splits", "fdr/data/sources.py", "    folder.refuse_shared_content(clean + pairs)\n", "",
      ("tests/data/test_folder_source.py::test_folder_faults_stop_with_a_message_naming_the_file",)),
    M("pairs_input_is_target", "fdr/data/folder.py", "    if a == b or a in b.parents or b in a.parents:", "    if False:",
      ("tests/data/test_folder_source.py::test_folder_faults_stop_with_a_message_naming_the_file",)),
    M("targets_without_inputs_ignored", "fdr/data/folder.py",
      '    for stems, there, key in ((inputs, targets, "pairs.target"), (targets, inputs, "pairs.input")):',
      '    if not inputs:\n        return []\n'
      '    for stems, there, key in ((inputs, targets, "pairs.target"), (targets, inputs, "pairs.input")):',
      ("tests/data/test_folder_source.py::test_folder_faults_stop_with_a_message_naming_the_file",)),
    M("linked_folders_left_out_silently", "fdr/data/folder.py", "    refuse_linked_folders(folder, key)\n", "",
      ("tests/data/test_folder_source.py::test_folder_faults_stop_with_a_message_naming_the_file",)),
    M("empty_clean_folder_accepted", "fdr/data/folder.py", "    if not rows:\n        raise ValueError(f\"data.folder.clean: no",
      "    if False:\n        raise ValueError(f\"data.folder.clean: no",
      ("tests/data/test_folder_source.py::test_folder_faults_stop_with_a_message_naming_the_file",)),
    M("optional_folders_required", "fdr/data/folder.py", "if not required and not folder.exists():", "if False:",
      ("tests/data/test_folder_source.py::test_the_same_image_twice_in_one_split_and_missing_pair_folders_are_accepted",
       "tests/data/test_folder_source.py::test_optional_folders_may_be_missing_and_a_changed_photo_reruns_the_download_stage")),
    M("download_depends_on_optional_folders", "dvc.yaml", "           data/photos.json]",
      '           data/photos.json, "${data.folder.pairs.input}"]',
      ("tests/data/test_folder_source.py::test_optional_folders_may_be_missing_and_a_changed_photo_reruns_the_download_stage",)),
    M("grayscale_skipped_silently", "fdr/data/sources.py", "        if not skip_bad:\n            raise\n",
      "        if not skip_bad and exc.reason != \"grayscale\":\n            raise\n",
      ("tests/data/test_folder_source.py::test_folder_faults_stop_with_a_message_naming_the_file",)),
    M("multi_frame_first_frame_only", "fdr/data/imageio.py", 'if frames > 1 and im.format != "MPO":', "if False:",
      ("tests/data/test_folder_source.py::test_folder_faults_stop_with_a_message_naming_the_file",
       "tests/evaluate/test_restore.py")),
    M("too_small_skipped_silently", "fdr/data/synthesize.py", "            if not cfg.data.skip_bad:\n",
      "            if not cfg.data.skip_bad and res[\"bad\"][2] != \"too_small\":\n",
      ("tests/data/test_folder_source.py::test_images_no_patch_fits_or_a_set_left_empty_stop_synthesis_naming_them",)),
    M("empty_set_left_to_crop", "fdr/data/synthesize.py", "        if not rows:\n            why =", "        if False:\n            why =",
      ("tests/data/test_folder_source.py::test_images_no_patch_fits_or_a_set_left_empty_stop_synthesis_naming_them",)),
    M("restore_replaces_existing_output", "fdr/commands/restore.py", "if os.path.lexists(dst) and not args.overwrite:",
      "if False:", ("tests/evaluate/test_restore.py::test_cli_never_replaces_a_file_already_in_the_output_folder_unless_asked",)),
    M("restore_overlap_unbounded", "fdr/commands/restore.py", "not 0 <= args.overlap <= args.tile // 2",
      "not 0 <= args.overlap < args.tile",
      ("tests/evaluate/test_restore.py::test_cli_refuses_an_overlap_beyond_half_the_tile_and_a_multi_frame_image",)),
    # parameter files and profiles
    M("exponent_floats_read_as_text", "fdr/config/yamlio.py",
      'ParamsLoader.add_implicit_resolver("tag:yaml.org,2002:float"', 'ParamsLoader.yaml_implicit_resolvers.get(',
      ("tests/config/test_config.py::test_numbers_in_exponent_form_are_numbers_as_dvc_writes_them",)),
    M("float_text_refused", "fdr/config/base.py", "if isinstance(value, str) and FLOAT_TEXT.fullmatch(value.strip()):",
      "if False:", ("tests/config/test_config.py::test_numbers_in_exponent_form_are_numbers_as_dvc_writes_them",)),
    M("duplicate_keys_last_wins", "fdr/config/yamlio.py", "                    if key in first:", "                    if False:",
      ("tests/config/test_config.py::test_a_key_given_twice_is_refused_naming_file_key_and_lines",)),
    M("model_size_unbounded", "fdr/config/model.py", "MAX_CHANNELS, MAX_REPEATS = 1024, 64",
      "MAX_CHANNELS, MAX_REPEATS = 10**12, 10**12",
      ("tests/config/test_config.py::test_model_sizes_beyond_the_limit_are_one_line_errors_naming_the_key",)),
    M("documented_key_missing_from_params", "params.yaml", "  compile: false          # torch.compile", "  # torch.compile",
      ("tests/config/test_config.py::test_every_key_of_the_typed_config_is_in_params_yaml",)),
    M("profile_new_key_without_plus", "fdr/commands/profile.py",
      "args += [\"-S\", _argument(key, value, base is not None and not _present(base, key))]",
      "args += [\"-S\", _argument(key, value, False)]",
      ("tests/commands/test_profile.py::test_profile_arguments_are_taken_by_dvc_exp_run",)),
    M("profile_nested_mapping_taken", "fdr/commands/profile.py", "if any(isinstance(v, (dict, list)) for v in items):",
      "if False:", ("tests/commands/test_profile.py",)),
    # the paper profile: the paper's data or a refusal, test subsets, opt-in runs, cost, the paper as a revision
    M("download_without_the_papers_data", "fdr/data/sources.py", "    datasets.check(cfg)\n", "",
      ("tests/data/test_paper_data.py::test_download_refuses_div2k_without_the_papers_data_sets_naming_each_key",)),
    M("substitutes_ignored", "fdr/config/datasets.py", "if not given(cfg.data, name) and name not in cfg.data.substitutes}",
      "if not given(cfg.data, name)}", ("tests/data/test_paper_data.py::test_named_substitutes_are_accepted_and_only_the_tables_runs_count",)),
    M("did_mdn_any_test_folder", "fdr/data/sources.py", 'split = "test" if d.did_mdn_test in parts else',
      'split = "test" if any("test" in p.lower() for p in parts) else',
      ("tests/data/test_paper_data.py::test_did_mdn_is_split_by_its_folders_into_the_papers_test_set",)),
    M("paired_archives_uncounted", "fdr/data/sources.py", '                check_counts(key, listed, counts, archives[-1]["archive"])\n',
      "", ("tests/data/test_paper_data.py::test_paired_archives_the_paper_needs_are_counted",)),
    M("one_cut_for_every_test_set", "fdr/data/patches.py", "cfg.crop.max_test_patches.of(name)", "cfg.crop.max_test_patches.didhy",
      ("tests/data/test_paper_data.py::test_the_test_subset_is_per_track_and_table1_keeps_every_patch",)),
    M("profile_starts_without_data", "fdr/commands/profile.py", "            datasets.check(cfg)\n", "            pass\n",
      ("tests/commands/test_profile.py::test_the_paper_profile_refuses_without_the_papers_data_and_dvc_would_not_start",)),
    M("refusal_lets_dvc_start", "fdr/commands/profile.py", "            print(REFUSED)\n", "",
      ("tests/commands/test_profile.py::test_the_paper_profile_refuses_without_the_papers_data_and_dvc_would_not_start",)),
    M("opt_in_rows_kept", "fdr/commands/profile.py", 'overlay.update({f"~runs.{run}": None for run in group_runs(keys)})',
      "overlay.update({})", ("tests/commands/test_profile.py::test_with_the_archives_the_profile_prints_what_dvc_needs_and_tests_on_every_patch",)),
    M("missing_keys_set_plainly", "fdr/commands/profile.py", "{'' if base is None or _has(base, key) else '++'}", "{''}",
      ("tests/commands/test_profile.py::test_with_the_archives_the_profile_prints_what_dvc_needs_and_tests_on_every_patch",)),
    M("cost_forward_only", "fdr/cost.py", "        (y[0] if isinstance(y, (tuple, list)) else y).abs().mean().backward()\n", "",
      ("tests/commands/test_profile.py::test_cost_counts_each_runs_training_step_and_names_its_group",)),
    M("note_ignores_substitute", "fdr/report/datanotes.py", "    if name in cfg.data.substitutes:", "    if False:",
      ("tests/report/test_datanotes.py",)),
    M("notes_without_params", "fdr/report/comparison.py", 'if cfg is not None and source == "div2k":', "if False:",
      ("tests/report/test_datanotes.py",)),
    M("test_subset_unnamed", "fdr/report/comparison.py",
      "cut = cut_note(cfg, table) if cfg is not None and table is not None else None", "cut = None",
      ("tests/report/test_datanotes.py",)),
    M("paper_metrics_per_patch_only", "fdr/commands/paper_metrics.py",
      "whole = set_ in WHOLE_SETS.get(name, {}) and run in whole_runs", "whole = False",
      ("tests/commands/test_paper_metrics.py",)),
    M("paper_metrics_last_table_wins", "fdr/commands/paper_metrics.py", "                    if metric in ours:",
      "                    if False:", ("tests/commands/test_paper_metrics.py",)),
    M("paper_metrics_in_the_users_index", "fdr/commands/paper_metrics.py", 'env = _env(Path(tmp) / "index")',
      "env = None", ("tests/commands/test_paper_metrics.py::test_dvc_metrics_diff_against_the_paper_branch",)),
    M("table6_not_swept_everywhere", "fdr/report/paper_tables.py", "None if r in swept else NOT_SWEPT", "NOT_SWEPT",
      ("tests/report/test_report.py",)),
]


def apply(root: Path, m: Mutation) -> None:
    path = root / m.file
    text = path.read_text()
    count = text.count(m.old)
    if count != 1:
        raise ValueError(f"{m.name}: the snippet occurs {count} times in {m.file} (the code changed; update the list)")
    path.write_text(text.replace(m.old, m.new))


def run_tests(root: Path, tests: tuple, timeout: int) -> tuple[bool, float]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests], cwd=root,
                          capture_output=True, text=True, timeout=timeout)
    return proc.returncode != 0, time.perf_counter() - t0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="", help="comma-separated mutation names")
    parser.add_argument("--e2e", action="store_true",
                        help="run only tests/pipeline/test_e2e_regression.py per mutation (does the regression alone catch it?)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per pytest run")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTATIONS if not args.only or m.name in args.only.split(",")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="fdr-mutations-") as scratch:
        base = Path(scratch) / "clean"
        for item in COPY:
            src, dst = REPO / item, base / item
            dst.parent.mkdir(parents=True, exist_ok=True)
            (shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__")) if src.is_dir()
             else shutil.copy2(src, dst))
        for m in chosen:
            work = Path(scratch) / m.name
            shutil.copytree(base, work)
            try:
                apply(work, m)
            except ValueError as exc:
                rows.append((m.name, "NOT APPLIED", str(exc), 0.0))
                continue
            tests = ("tests/pipeline/test_e2e_regression.py",) if args.e2e else m.tests
            caught, seconds = run_tests(work, tests, args.timeout)
            rows.append((m.name, "caught" if caught else "MISSED", ", ".join(tests), seconds))
            print(f"{m.name:34s} {rows[-1][1]:11s} {seconds:6.1f} s  {rows[-1][2]}", flush=True)
            shutil.rmtree(work, ignore_errors=True)
    missed = [r for r in rows if r[1] != "caught"]
    print(f"\n{len(rows) - len(missed)} of {len(rows)} mutations caught" + (
        f"; not caught: {', '.join(r[0] for r in missed)}" if missed else ""))
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
