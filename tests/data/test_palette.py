"""Colour augmentation (fdr.data.palette) and the training set's flips / rotations (fdr.data.dataset.dihedral),
checked against independent restatements."""
import numpy as np
import pytest

from fdr.data import palette
from fdr.data.dataset import dihedral


def _image(seed=0, shape=(6, 5, 3)):
    return np.random.default_rng(seed).random(shape)


def test_identity_palette_leaves_the_image_alone():
    img = _image()
    np.testing.assert_array_equal(palette.apply(img, palette.Palette()), img.astype(np.float32))


def test_a_third_of_a_turn_about_the_grey_axis_cycles_the_channels():
    """A rotation by 120 degrees about (1, 1, 1) takes the R axis to G, G to B and B to R: (r, g, b) -> (b, r, g)."""
    img = _image() * 0.5 + 0.25  # nothing clipped
    np.testing.assert_allclose(palette.apply(img, palette.Palette(hue=120.0)), img[..., [2, 0, 1]], atol=1e-6)
    np.testing.assert_allclose(palette.apply(img, palette.Palette(hue=240.0)), img[..., [1, 2, 0]], atol=1e-6)


def test_hue_keeps_greys_and_brightness_saturation_moves_towards_grey():
    grey = np.full((2, 2, 3), 0.4)
    np.testing.assert_allclose(palette.apply(grey, palette.Palette(hue=77.0)), grey, atol=1e-6)
    img = _image(1) * 0.4 + 0.3
    rotated = palette.apply(img, palette.Palette(hue=33.0))
    np.testing.assert_allclose(rotated.mean(axis=-1), img.mean(axis=-1), atol=1e-6)  # a rotation about grey
    assert not np.allclose(rotated, img)
    flat = palette.apply(img, palette.Palette(saturation=0.0))
    np.testing.assert_allclose(flat, np.repeat(img.mean(axis=-1, keepdims=True), 3, axis=-1), atol=1e-6)
    half = palette.apply(img, palette.Palette(saturation=0.5))
    np.testing.assert_allclose(half, (img + img.mean(axis=-1, keepdims=True)) / 2, atol=1e-6)


def test_channel_order_and_clipping():
    img = _image(2)
    np.testing.assert_allclose(palette.apply(img, palette.Palette(order=(1, 2, 0))), img[..., [1, 2, 0]], atol=1e-7)
    out = palette.apply(img, palette.Palette(saturation=3.0))
    assert out.min() >= 0 and out.max() <= 1


def test_drawn_palettes_cover_every_order_and_the_ranges():
    rng = np.random.default_rng(0)
    drawn = [palette.draw(rng, (0.6, 1.4)) for _ in range(400)]
    assert {p.order for p in drawn} == set(palette.ORDERS)
    hues = np.array([p.hue for p in drawn])
    sats = np.array([p.saturation for p in drawn])
    assert hues.min() >= 0 and hues.max() < 360 and np.histogram(hues, bins=4, range=(0, 360))[0].min() > 70
    assert sats.min() >= 0.6 and sats.max() <= 1.4


def test_dihedral_gives_eight_distinct_transforms_of_an_asymmetric_patch():
    patch = np.arange(4 * 4 * 3).reshape(4, 4, 3)
    outs = [dihedral(patch, k) for k in range(8)]
    assert len({o.tobytes() for o in outs}) == 8
    np.testing.assert_array_equal(outs[0], patch)
    np.testing.assert_array_equal(outs[1], np.rot90(patch))
    np.testing.assert_array_equal(outs[4], patch[:, ::-1])
    for o in outs:  # each is a symmetry: same pixels, same channels per pixel
        assert sorted(map(tuple, o.reshape(-1, 3))) == sorted(map(tuple, patch.reshape(-1, 3)))


@pytest.mark.parametrize("crop", [0, 3])
def test_the_dataset_transforms_input_and_target_alike(tmp_path, crop):
    from fdr.data.dataset import PatchDataset
    from tests.helpers import make_patch_set

    make_patch_set(tmp_path, n=6, patch=5)
    plain = PatchDataset(tmp_path, crop=crop, seed=1)
    aug = PatchDataset(tmp_path, crop=crop, seed=1, augment="dihedral")
    seen = set()
    for epoch in range(6):
        plain.set_epoch(epoch)
        aug.set_epoch(epoch)
        for i in range(6):
            (a0, b0), (a1, b1) = plain[i], aug[i]
            ks = [k for k in range(8) if np.array_equal(dihedral(a0.numpy().transpose(1, 2, 0), k),
                                                          a1.numpy().transpose(1, 2, 0))]
            assert ks, (epoch, i)  # the augmented input is a transform of the same crop ...
            assert any(np.array_equal(dihedral(b0.numpy().transpose(1, 2, 0), k), b1.numpy().transpose(1, 2, 0))
                       for k in ks)  # ... and the target the same transform
            seen.update(ks)
    assert len(seen) == 8
    with pytest.raises(ValueError, match="train.augment"):
        PatchDataset(tmp_path, augment="mirror")
