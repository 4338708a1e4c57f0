"""Selective search: native vs reference (exact), similarities from the definition, hierarchy
structure, determinism, thread independence, input forms, edge cases, errors, real photos."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import detkit
from detkit import _C
from detkit.proposals import COLOR_SPACES, selective_search, selective_search_settings
from detkit.reference import proposals as ref
from detkit.synthetic import synthetic_scene


def scene(seed, h=36, w=48, n=3):
    return synthetic_scene(seed, h, w, n_objects=n)[0]


def assert_same(native, reference):
    boxes, hiers = native
    ref_boxes, ref_hiers = reference
    np.testing.assert_array_equal(boxes, ref_boxes)
    assert len(hiers) == len(ref_hiers)
    for got, want in zip(hiers, ref_hiers):
        for key in ("color_space", "k", "strategy"):
            assert got[key] == want[key]
        for key in ("labels", "merges", "similarity", "boxes", "priority"):
            np.testing.assert_array_equal(got[key], want[key], err_msg=key)


@pytest.mark.parametrize("mode", ["single", "fast", "quality"])
@pytest.mark.parametrize("seed", [0, 1])
def test_modes_match_reference(mode, seed):
    image = scene(seed)
    spaces, strategies, ks = selective_search_settings(mode)
    native = selective_search(image, mode, min_box_size=4, seed=seed, return_hierarchy=True)
    assert_same(native, ref.selective_search(image, spaces, strategies, ks, min_box_size=4, seed=seed,
                                             return_hierarchy=True))


@st.composite
def settings_strategy(draw):
    spaces = draw(st.lists(st.sampled_from(COLOR_SPACES), min_size=1, max_size=3))
    strategies = draw(st.lists(st.sampled_from(["C", "T", "S", "F", "CT", "SF", "CTSF", "TSF", "CS"]),
                               min_size=1, max_size=3))
    ks = draw(st.lists(st.sampled_from([1.0, 7.5, 30.0, 200.0]), min_size=1, max_size=2))
    return spaces, strategies, ks


@settings(max_examples=40)
@given(st.integers(1, 14), st.integers(1, 14), st.sampled_from([2, 8, 256]), st.data(), settings_strategy(),
       st.sampled_from([0.0, 0.8]), st.integers(0, 6), st.none() | st.integers(0, 20), st.integers(0, 2**64 - 1))
def test_random_images_match_reference(h, w, levels, data, config, sigma, min_box, max_proposals, seed):
    image = data.draw(hnp.arrays(np.uint8, (h, w, 3), elements=st.integers(0, levels - 1)))
    image = (image * (255 // (levels - 1))).astype(np.uint8)
    spaces, strategies, ks = config
    native = selective_search(image, color_spaces=spaces, strategies=strategies, ks=ks, sigma=sigma,
                              min_box_size=min_box, max_proposals=max_proposals, seed=seed,
                              return_hierarchy=True)
    assert_same(native, ref.selective_search(image, spaces, strategies, ks, sigma, min_box, max_proposals,
                                              seed, return_hierarchy=True))


@pytest.mark.parametrize("space", COLOR_SPACES)
def test_colour_conversion_and_texture_bins_match_reference(space):
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, (17, 23, 3)).astype(np.uint8)
    image[0, :8] = [[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255], [7, 7, 7],
                    [255, 255, 0], [0, 255, 255]]
    planes = _C.ss_convert_color(image, COLOR_SPACES.index(space))
    np.testing.assert_array_equal(planes, ref.convert_color(image, space))
    np.testing.assert_array_equal(_C.ss_texture_bins(planes), ref.texture_bins(planes))


def test_hsv_and_intensity_values():
    image = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [90, 90, 90], [0, 0, 0]]], np.uint8)
    h, s, v = _C.ss_convert_color(image, 0)[:, 0]
    np.testing.assert_array_equal(h, [0, 85, 170, 0, 0])  # hue 0, 120, 240 degrees on 0..255
    np.testing.assert_array_equal(s, [255, 255, 255, 0, 0])
    np.testing.assert_array_equal(v, [255, 255, 255, 90, 0])
    np.testing.assert_array_equal(_C.ss_convert_color(image, 4)[0, 0], [85, 85, 85, 90, 0])


def test_lab_against_opencv():
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, (20, 30, 3)).astype(np.uint8)
    ours = _C.ss_convert_color(image, 1).astype(int)
    theirs = np.moveaxis(cv2.cvtColor(image, cv2.COLOR_RGB2Lab), 2, 0).astype(int)
    assert np.abs(ours - theirs).max() <= 1  # same uint8 convention (L * 255 / 100, a + 128, b + 128)


def region_features(image_planes, tex, labels, members, channels):
    """Colour / texture histograms of a set of segments, straight from their pixels."""
    mask = np.isin(labels, members)
    colour = np.concatenate([np.bincount(p[mask].astype(int) * 25 // 256, minlength=25) for p in image_planes])
    texture = np.concatenate([np.bincount(tex[mask][:, j], minlength=10) for j in range(tex.shape[-1])])
    return colour / colour.sum(), texture / texture.sum(), mask.sum()


@pytest.mark.parametrize("space, strategy", [("hsv", "CTSF"), ("lab", "CT"), ("i", "TSF"), ("rgi", "CF")])
def test_similarities_follow_the_definition(space, strategy):
    """Every merge's similarity equals the paper's formula on the pixels of the two regions."""
    image = scene(4, 30, 40, 3)
    _, hiers = selective_search(image, color_spaces=[space], strategies=[strategy], ks=[20],
                                return_hierarchy=True)
    hier = hiers[0]
    labels = hier["labels"]
    planes = ref.convert_color(image, space)
    tex = ref.texture_bins(planes)
    n = labels.max() + 1
    members = {r: [r] for r in range(n)}
    for t, ((a, b), sim) in enumerate(zip(hier["merges"], hier["similarity"])):
        ca, ta, sa = region_features(planes, tex, labels, members[a], len(planes))
        cb, tb, sb = region_features(planes, tex, labels, members[b], len(planes))
        expected = 0.0
        if "C" in strategy:
            expected += np.minimum(ca, cb).sum()
        if "T" in strategy:
            expected += np.minimum(ta, tb).sum()
        if "S" in strategy:
            expected += 1 - (sa + sb) / labels.size
        if "F" in strategy:
            ys, xs = np.nonzero(np.isin(labels, members[a] + members[b]))
            expected += 1 - ((np.ptp(xs) + 1) * (np.ptp(ys) + 1) - sa - sb) / labels.size
        assert sim == pytest.approx(expected, abs=1e-5)
        members[n + t] = members.pop(a) + members.pop(b)


def test_hierarchy_structure():
    image = scene(6, 40, 50, 4)
    _, hiers = selective_search(image, "fast", return_hierarchy=True)
    assert [(h["color_space"], h["k"], h["strategy"]) for h in hiers] == [
        (c, k, s) for c in ("hsv", "lab") for k in (50.0, 100.0) for s in ("CTSF", "TSF")]
    for hier in hiers:
        labels, merges, boxes = hier["labels"], hier["merges"], hier["boxes"]
        n = labels.max() + 1
        assert len(merges) == n - 1 and len(boxes) == 2 * n - 1 == len(hier["priority"])
        ys, xs = np.mgrid[0:labels.shape[0], 0:labels.shape[1]]
        for r in range(n):
            m = labels == r
            np.testing.assert_array_equal(boxes[r], [xs[m].min(), ys[m].min(), xs[m].max() + 1, ys[m].max() + 1])
        alive = set(range(n))
        for t, (a, b) in enumerate(merges):
            assert a < b and a in alive and b in alive
            alive -= {a, b}
            alive.add(n + t)
            union = [min(boxes[a][0], boxes[b][0]), min(boxes[a][1], boxes[b][1]),
                     max(boxes[a][2], boxes[b][2]), max(boxes[a][3], boxes[b][3])]
            np.testing.assert_array_equal(boxes[n + t], union)
        np.testing.assert_array_equal(boxes[-1], [0, 0, labels.shape[1], labels.shape[0]])
        regions = len(boxes)
        assert ((hier["priority"] > 0) & (hier["priority"] <= regions - np.arange(regions))).all()


def test_seed_changes_the_order_but_not_the_set():
    image = scene(7, 50, 60, 4)
    a = selective_search(image, seed=1)
    np.testing.assert_array_equal(a, selective_search(image, seed=1))
    b = selective_search(image, seed=2)
    assert not np.array_equal(a, b)
    assert sorted(map(tuple, a.tolist())) == sorted(map(tuple, b.tolist()))


def test_thread_count_does_not_change_the_result():
    image = scene(8, 64, 80, 5)
    previous = detkit.get_num_threads()
    try:
        detkit.set_num_threads(1)
        one = selective_search(image, "quality", return_hierarchy=True)
        detkit.set_num_threads(3)
        many = selective_search(image, "quality", return_hierarchy=True)
    finally:
        detkit.set_num_threads(previous)
    assert_same(one, many)


def test_output_properties():
    image = scene(9, 80, 100, 5)
    boxes = selective_search(image, "quality", min_box_size=10)
    assert boxes.dtype == np.int64 and boxes.shape[1] == 4
    assert len(np.unique(boxes, axis=0)) == len(boxes)
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    assert (w >= 10).all() and (h >= 10).all()
    assert (boxes[:, :2] >= 0).all() and (boxes[:, 2] <= 100).all() and (boxes[:, 3] <= 80).all()
    assert [0, 0, 100, 80] in boxes.tolist()
    np.testing.assert_array_equal(selective_search(image, "quality", min_box_size=10, max_proposals=25), boxes[:25])
    assert selective_search(image, max_proposals=0).shape == (0, 4)


def test_input_forms_agree():
    image = scene(10, 30, 40)
    expected = selective_search(image)
    np.testing.assert_array_equal(selective_search(np.ascontiguousarray(image[:, :, ::-1]), bgr=True), expected)
    np.testing.assert_array_equal(selective_search(image.astype(np.float32) / 255), expected)
    np.testing.assert_array_equal(selective_search(image.tolist()), expected)
    gray = image[:, :, 1]
    np.testing.assert_array_equal(selective_search(gray), selective_search(np.stack([gray] * 3, axis=2)))
    np.testing.assert_array_equal(selective_search(gray[:, :, None]), selective_search(gray))
    np.testing.assert_array_equal(selective_search(gray, bgr=True), selective_search(gray))


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1), (2, 3000), (3000, 2), (1, 1, 3)])
def test_tiny_and_elongated_images(shape):
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, shape).astype(np.uint8)
    h, w = shape[:2]
    boxes = selective_search(image, "quality", min_box_size=0)
    assert [0, 0, w, h] in boxes.tolist()
    assert (boxes[:, 2] <= w).all() and (boxes[:, 3] <= h).all()
    if h * w <= 20:
        rgb = np.repeat(image.reshape(h, w, -1), 3 // image.reshape(h, w, -1).shape[2], axis=2)
        spaces, strategies, ks = selective_search_settings("quality")
        np.testing.assert_array_equal(boxes, ref.selective_search(rgb, spaces, strategies, ks, min_box_size=0))
    assert selective_search(image).shape == ((1, 4) if min(h, w) >= 20 else (0, 4))


@pytest.mark.parametrize("value", [0, 128, 255])
def test_constant_image_gives_the_whole_image(value):
    image = np.full((30, 50, 3), value, np.uint8)
    np.testing.assert_array_equal(selective_search(image, "quality"), [[0, 0, 50, 30]])


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea"])
def test_real_photos(name):
    data = pytest.importorskip("skimage.data")
    image = getattr(data, name)()
    boxes = selective_search(image, "fast")
    h, w = image.shape[:2]
    assert len(boxes) > 200
    assert (boxes[:, :2] >= 0).all() and (boxes[:, 2] <= w).all() and (boxes[:, 3] <= h).all()
    assert [0, 0, w, h] in boxes.tolist()
    np.testing.assert_array_equal(selective_search(image[:, :, ::-1], "fast", bgr=True), boxes)


def _image():
    return np.zeros((8, 8, 3), np.uint8)


@pytest.mark.parametrize("image, kwargs, error, match", [
    (np.zeros((8, 8, 4), np.uint8), {}, ValueError, "image must have 1 or 3 channels"),
    (np.zeros((8, 8, 2), np.uint8), {}, ValueError, "image must have 1 or 3 channels"),
    (np.zeros((2, 8, 8, 3), np.uint8), {}, ValueError, r"shape \(H, W\) or \(H, W, C\)"),
    (np.zeros((0, 8, 3), np.uint8), {}, ValueError, "at least 1 x 1"),
    (np.zeros((8, 8, 3), np.complex64), {}, TypeError, "image must be a uint8 image"),
    (np.full((8, 8, 3), 300), {}, ValueError, r"integer images must hold values in \[0, 255\]"),
    (np.full((8, 8, 3), -0.5), {}, ValueError, r"values in \[0, 1\]"),
    (_image(), {"mode": "slow"}, ValueError, "mode must be one of"),
    (_image(), {"color_spaces": ["xyz"]}, ValueError, "color_spaces entries must be one of"),
    (_image(), {"color_spaces": []}, ValueError, "color_spaces must not be empty"),
    (_image(), {"color_spaces": [3]}, TypeError, "color_spaces must hold strings"),
    (_image(), {"strategies": ["CX"]}, ValueError, "strategies entries must combine"),
    (_image(), {"strategies": ["CC"]}, ValueError, "strategies entries must combine"),
    (_image(), {"strategies": [""]}, ValueError, "strategies entries must combine"),
    (_image(), {"strategies": []}, ValueError, "strategies must not be empty"),
    (_image(), {"ks": []}, ValueError, "ks must not be empty"),
    (_image(), {"ks": [0]}, ValueError, "ks entries must be in"),
    (_image(), {"ks": [float("inf")]}, ValueError, "ks entries must be finite"),
    (_image(), {"ks": ["50"]}, TypeError, "ks entries must be a real number"),
    (_image(), {"sigma": -0.1}, ValueError, "sigma must be in"),
    (_image(), {"min_box_size": -1}, ValueError, "min_box_size must be in"),
    (_image(), {"min_box_size": 1.5}, TypeError, "min_box_size must be an integer"),
    (_image(), {"max_proposals": -1}, ValueError, "max_proposals must be a non-negative integer"),
    (_image(), {"seed": -1}, ValueError, "seed must be in"),
    (_image(), {"seed": 2**64}, ValueError, "seed must be in"),
    (_image(), {"seed": 1.0}, TypeError, "seed must be an integer"),
    (_image(), {"bgr": 1}, TypeError, "bgr must be a bool"),
])
def test_errors(image, kwargs, error, match):
    with pytest.raises(error, match=match):
        selective_search(image, **kwargs)


def test_binding_rechecks():
    image = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(ValueError, match="unknown colour space"):
        _C.selective_search(image, [9], [15], [50.0], 0.8, 0, -1, 0, False)
    with pytest.raises(ValueError, match="strategy"):
        _C.selective_search(image, [0], [0], [50.0], 0.8, 0, -1, 0, False)
    with pytest.raises(ValueError, match="ks must be positive"):
        _C.selective_search(image, [0], [15], [-1.0], 0.8, 0, -1, 0, False)
    with pytest.raises(ValueError, match="3 channels"):
        _C.selective_search(np.zeros((4, 4, 2), np.uint8), [0], [15], [1.0], 0.8, 0, -1, 0, False)


def test_huge_integer_limits_act_as_no_limit():
    image = np.random.default_rng(3).integers(0, 256, (24, 30, 3), dtype=np.uint8)
    everything = selective_search(image, "single", min_box_size=0)
    np.testing.assert_array_equal(selective_search(image, "single", min_box_size=0, max_proposals=10**30),
                                  everything)
    assert selective_search(image, "single", min_box_size=10**30).shape == (0, 4)
    one_segment = detkit.proposals.felzenszwalb(image, min_size=10**30)
    np.testing.assert_array_equal(one_segment, detkit.proposals.felzenszwalb(image, min_size=24 * 30))
    assert (one_segment == 0).all()
