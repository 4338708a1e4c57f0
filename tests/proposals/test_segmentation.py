"""Felzenszwalb segmentation: native vs reference, invariants, edge cases, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from detkit import reference
from detkit.proposals import felzenszwalb
from detkit.synthetic import synthetic_scene

measure = pytest.importorskip("skimage.measure")


@st.composite
def small_images(draw, max_side=12):
    h, w = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    c = draw(st.sampled_from([1, 3, 2]))
    levels = draw(st.sampled_from([2, 4, 256]))  # few levels: flat areas and tied edge weights
    values = draw(hnp.arrays(np.uint8, (h, w, c), elements=st.integers(0, levels - 1)))
    return (values * (255 // (levels - 1))).astype(np.uint8)


def check_invariants(labels: np.ndarray, min_size: int) -> None:
    n = labels.max() + 1
    assert labels.dtype == np.int64 and labels.min() == 0
    sizes = np.bincount(labels.ravel(), minlength=n)
    assert (sizes > 0).all(), "labels are 0..n-1 without gaps"
    first = [np.flatnonzero(labels.ravel() == r)[0] for r in range(n)]
    assert first == sorted(first), "labels are numbered in raster order"
    assert sizes.min() >= min(min_size, labels.size)
    for r in range(n):  # every region is one 8-connected component
        assert measure.label(labels == r, connectivity=2, background=0).max() == 1


@given(small_images(), st.sampled_from([0.5, 1.0, 30.0, 300.0, 5000.0]), st.sampled_from([0.0, 0.5, 0.8, 2.0]),
       st.integers(0, 30))
def test_matches_reference(image, scale, sigma, min_size):
    got = felzenszwalb(image, scale, sigma, min_size)
    np.testing.assert_array_equal(got, reference.felzenszwalb(image, scale, sigma, min_size))
    check_invariants(got, min_size)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("scale, min_size", [(50, 50), (300, 20), (10, 0)])
def test_invariants_on_scenes(seed, scale, min_size):
    image, _, _ = synthetic_scene(seed, 60, 80, n_objects=4)
    labels = felzenszwalb(image, scale, 0.8, min_size)
    check_invariants(labels, min_size)
    np.testing.assert_array_equal(labels, reference.felzenszwalb(image, scale, 0.8, min_size))


def test_larger_scale_gives_fewer_regions():
    image, _, _ = synthetic_scene(3, 100, 120)
    counts = [felzenszwalb(image, k, 0.8, 0).max() + 1 for k in (10, 100, 1000)]
    assert counts[0] > counts[1] > counts[2]


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (9, 1), (2, 500), (500, 2), (1, 1, 3)])
def test_tiny_and_elongated_images(shape):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, shape).astype(np.uint8)
    labels = felzenszwalb(image, 100, 0.8, 5)
    assert labels.shape == shape[:2]
    check_invariants(labels, 5)
    np.testing.assert_array_equal(labels, reference.felzenszwalb(image, 100, 0.8, 5))


def test_constant_image_is_one_region():
    np.testing.assert_array_equal(felzenszwalb(np.full((7, 9, 3), 77, np.uint8), 1.0, 0.8, 0), np.zeros((7, 9)))


def test_two_halves_split_exactly():
    image = np.zeros((20, 30), np.uint8)
    image[:, 15:] = 255
    labels = felzenszwalb(image, 100, 0, 10)
    np.testing.assert_array_equal(labels, (np.arange(30) >= 15)[None, :].repeat(20, 0).astype(int))


def test_float_and_grayscale_inputs():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (15, 20)).astype(np.uint8)
    expected = felzenszwalb(image, 50)
    np.testing.assert_array_equal(felzenszwalb(image[:, :, None], 50), expected)
    np.testing.assert_array_equal(felzenszwalb(image.astype(np.float32) / 255, 50), expected)
    np.testing.assert_array_equal(felzenszwalb(image.astype(np.float64) / 255, 50), expected)
    np.testing.assert_array_equal(felzenszwalb(np.asfortranarray(image), 50), expected)
    np.testing.assert_array_equal(felzenszwalb(image.astype(np.int16), 50), expected)


def test_input_is_not_modified():
    image = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    before = image.copy()
    felzenszwalb(image, 10)
    np.testing.assert_array_equal(image, before)


@pytest.mark.parametrize("image, kwargs, error, match", [
    (np.zeros((4, 4), np.float16), {}, TypeError, "image must be a uint8 image"),
    (np.full((4, 4), 256), {}, ValueError, r"integer images must hold values in \[0, 255\]"),
    (np.full((4, 4), -1), {}, ValueError, r"integer images must hold values in \[0, 255\]"),
    (np.zeros((4, 4), bool), {}, TypeError, "image must be a uint8 image"),
    (np.full((4, 4), 1.5), {}, ValueError, r"values in \[0, 1\]"),
    (np.full((4, 4), np.nan), {}, ValueError, "image must be finite"),
    (np.zeros((2, 2, 2, 2), np.uint8), {}, ValueError, r"shape \(H, W\) or \(H, W, C\)"),
    (np.zeros(5, np.uint8), {}, ValueError, r"shape \(H, W\) or \(H, W, C\)"),
    (np.zeros((0, 4), np.uint8), {}, ValueError, "at least 1 x 1"),
    (np.zeros((4, 4, 0), np.uint8), {}, ValueError, "channels"),
    (np.zeros((4, 4), np.uint8), {"scale": 0}, ValueError, "scale must be in"),
    (np.zeros((4, 4), np.uint8), {"scale": "1"}, TypeError, "scale must be a real number"),
    (np.zeros((4, 4), np.uint8), {"sigma": -1}, ValueError, "sigma must be in"),
    (np.zeros((4, 4), np.uint8), {"sigma": 1e9}, ValueError, "sigma must be in"),
    (np.zeros((4, 4), np.uint8), {"min_size": -1}, ValueError, "min_size must be in"),
    (np.zeros((4, 4), np.uint8), {"min_size": 2.5}, TypeError, "min_size must be an integer"),
])
def test_errors(image, kwargs, error, match):
    with pytest.raises(error, match=match):
        felzenszwalb(image, **kwargs)
