"""What the stages leave behind: file modes that follow the umask, no stale partial folders, no pool workers
outliving a killed stage."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from fdr.atomic import write_json
from fdr.data.layout import built_aside
from tests.helpers import subprocess_env


@pytest.fixture()
def umask():
    old = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(old)


@pytest.mark.parametrize("mask, file_mode, dir_mode", [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750),
                                                       (0o002, 0o664, 0o775)])
def test_written_files_and_built_folders_follow_the_umask(tmp_path, umask, mask, file_mode, dir_mode):
    umask(mask)
    write_json(tmp_path / "metrics.json", {"psnr": 1.0})
    with built_aside(tmp_path, "raw") as tmp:
        (tmp / "images").mkdir()
        write_json(tmp / "images" / "a.json", [])
    assert (tmp_path / "metrics.json").stat().st_mode & 0o777 == file_mode
    assert (tmp_path / "raw").stat().st_mode & 0o777 == dir_mode
    assert (tmp_path / "raw" / "images" / "a.json").stat().st_mode & 0o777 == file_mode


def test_a_build_removes_the_partial_folders_a_killed_build_left(tmp_path):
    (tmp_path / ".synth.partial-abc123" / "train").mkdir(parents=True)
    (tmp_path / ".synth.partial-abc123" / "train" / "x.png").write_bytes(b"\0" * 1000)
    (tmp_path / ".raw.partial-keep").mkdir()  # another folder's build: not ours to remove
    with built_aside(tmp_path, "synth") as tmp:
        (tmp / "summary.json").write_text("{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".raw.partial-keep", "synth"]


def _descendants(session: int) -> list[int]:
    """Live processes in ``session`` (zombies excluded)."""
    alive = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if os.getsid(int(entry.name)) == session and state != "Z":
                    alive.append(int(entry.name))
            except (OSError, IndexError):
                pass
    return alive


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="CI cannot: no /proc to list processes on this system")
def test_pool_workers_end_with_a_killed_synthesis(tmp_path):
    """The synthesis pool (its context and worker initialiser) with workers busy; the parent is SIGKILLed."""
    script = textwrap.dedent("""
        import time
        from concurrent.futures import ProcessPoolExecutor
        from fdr import config
        from fdr.data import synthesize as s
        with ProcessPoolExecutor(2, mp_context=s._pool_context(), initializer=s._init_worker,
                                 initargs=(config.from_dict({}), ".", ".")) as ex:
            futures = [ex.submit(time.sleep, 60) for _ in range(2)]
            time.sleep(1.0)
            print("running", flush=True)
            [f.result() for f in futures]
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=tmp_path,
                            env=subprocess_env(), start_new_session=True)
    try:
        assert proc.stdout.readline().strip() == "running"
        assert len(_descendants(proc.pid)) >= 3  # the parent, the fork server, two workers
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 10
        while _descendants(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _descendants(proc.pid) == []
    finally:
        for pid in _descendants(proc.pid):
            os.kill(pid, signal.SIGKILL)
