"""RLE masks: detkit.eval.mask vs pycocotools.mask (bit for bit) and vs the dense reference."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from detkit import reference
from detkit.eval import mask as dm

pm = pytest.importorskip("pycocotools.mask")
ref = reference.mask


@st.composite
def mask_stacks(draw, max_side=12, max_n=4):
    """(h, w, n) uint8 masks: noise, rectangles, empty or full; sides may be 0 or 1."""
    h = draw(st.integers(0, max_side))
    w = draw(st.integers(0, max_side))
    n = draw(st.integers(1, max_n))
    kind = draw(st.sampled_from(["noise", "rects", "empty", "full"]))
    if kind == "noise":
        masks = draw(hnp.arrays(np.uint8, (h, w, n), elements=st.sampled_from([0, 1])))
    elif kind == "rects":
        masks = np.zeros((h, w, n), np.uint8)
        for i in range(n):
            for _ in range(draw(st.integers(0, 3))):
                y0, y1 = sorted(draw(st.lists(st.integers(0, h), min_size=2, max_size=2)))
                x0, x1 = sorted(draw(st.lists(st.integers(0, w), min_size=2, max_size=2)))
                masks[y0:y1, x0:x1, i] = 1
    else:
        masks = np.full((h, w, n), 1 if kind == "full" else 0, np.uint8)
    return np.asfortranarray(masks)


def _same_rles(got, want):
    assert got == want  # dicts: same size list and same counts bytes


def random_blobs(rng, h, w, n):
    masks = np.zeros((h, w, n), np.uint8, order="F")
    yy, xx = np.mgrid[:h, :w]
    for i in range(n):
        for _ in range(rng.integers(1, 4)):
            cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(1, max(h, w) / 3)
            masks[..., i] |= ((yy - cy) ** 2 + (xx - cx) ** 2 < r * r).astype(np.uint8)
    return masks


# ------------------------------------------------------------------------------------------------
# encode / decode / area / toBbox

@given(mask_stacks())
def test_encode_decode_area_bbox_match_pycocotools(masks):
    want = pm.encode(masks)
    got = dm.encode(masks)
    _same_rles(got, want)
    _same_rles(ref.encode(masks), want)
    _same_rles(dm.encode(masks[:, :, 0]), pm.encode(np.asfortranarray(masks[:, :, 0])))
    decoded = dm.decode(got)
    assert decoded.dtype == np.uint8 and decoded.flags.f_contiguous
    np.testing.assert_array_equal(decoded, masks)
    np.testing.assert_array_equal(decoded, pm.decode(want))
    np.testing.assert_array_equal(dm.decode(got[0]), masks[:, :, 0])
    np.testing.assert_array_equal(ref.decode(got), masks)
    area = dm.area(got)
    assert area.dtype == np.uint32
    np.testing.assert_array_equal(area, pm.area(want))
    np.testing.assert_array_equal(area, ref.area(got))
    assert dm.area(got[0]) == pm.area(want[0]) and isinstance(dm.area(got[0]), np.uint32)
    bbox = dm.toBbox(got)
    np.testing.assert_array_equal(bbox, pm.toBbox(want))
    np.testing.assert_array_equal(bbox, ref.toBbox(got))
    np.testing.assert_array_equal(dm.toBbox(got[0]), pm.toBbox(want[0]))


@pytest.mark.parametrize("seed", range(4))
def test_large_masks_match_pycocotools(seed):
    rng = np.random.default_rng(seed)
    masks = random_blobs(rng, 97, 131, 6)
    _same_rles(dm.encode(masks), pm.encode(masks))
    rles = pm.encode(masks)
    np.testing.assert_array_equal(dm.decode(rles), masks)
    np.testing.assert_array_equal(dm.toBbox(rles), pm.toBbox(rles))
    crowd = rng.integers(0, 2, 6)
    np.testing.assert_array_equal(dm.iou(rles, rles[::-1], crowd), pm.iou(rles, rles[::-1], crowd))
    for intersect in (False, True):
        _same_rles(dm.merge(rles, intersect), pm.merge(rles, intersect))


def test_encode_accepts_c_order_bool_and_any_nonzero():
    rng = np.random.default_rng(0)
    masks = random_blobs(rng, 20, 30, 3)
    want = pm.encode(masks)
    _same_rles(dm.encode(np.ascontiguousarray(masks)), want)
    _same_rles(dm.encode(masks.astype(bool)), want)
    _same_rles(dm.encode(masks * 255), want)
    _same_rles(dm.encode(masks * rng.integers(1, 256, masks.shape).astype(np.uint8)), want)
    _same_rles(dm.encode(masks[::2, ::-1]), pm.encode(np.asfortranarray(masks[::2, ::-1])))
    _same_rles(dm.encode(masks[:, :, 1]), pm.encode(np.asfortranarray(masks[:, :, 1])))


def test_empty_full_and_degenerate_shapes():
    for shape in [(3, 4), (1, 7), (7, 1), (1, 1), (0, 5), (5, 0), (0, 0)]:
        for value in (0, 1):
            m = np.full(shape, value, np.uint8, order="F")
            _same_rles(dm.encode(m), pm.encode(m))
            np.testing.assert_array_equal(dm.decode(dm.encode(m)), m)
    assert dm.encode(np.zeros((3, 4), np.uint8)) == {"size": [3, 4], "counts": b"<"}  # [12]
    assert dm.encode(np.ones((3, 4), np.uint8)) == {"size": [3, 4], "counts": b"0<"}  # [0, 12]
    assert dm.encode(np.zeros((0, 4), np.uint8)) == {"size": [0, 4], "counts": b"0"}
    assert dm.encode(np.zeros((2, 3, 0), np.uint8)) == []
    np.testing.assert_array_equal(dm.toBbox(dm.encode(np.zeros((3, 4), np.uint8))), [0, 0, 0, 0])


def test_first_pixel_set_and_word_boundaries():
    # Runs ending on each side of the 8-byte word skipping in the encoder.
    for length in range(1, 40):
        for start in range(0, length):
            m = np.zeros((length, 1), np.uint8)
            m[start:] = 1
            m[: start // 2] = 7
            _same_rles(dm.encode(m), pm.encode(np.asfortranarray(m != 0).astype(np.uint8)))


# ------------------------------------------------------------------------------------------------
# merge / iou

@given(mask_stacks(max_n=5), st.booleans())
def test_merge_matches_pycocotools(masks, intersect):
    rles = pm.encode(masks)
    want = pm.merge(rles, intersect)
    _same_rles(dm.merge(rles, intersect), want)
    _same_rles(ref.merge(rles, intersect), want)
    _same_rles(dm.merge(rles[:1], intersect), pm.merge(rles[:1], intersect))


def test_merge_empty_list():
    assert dm.merge([]) == pm.merge([]) == {"size": [0, 0], "counts": b""}


@given(mask_stacks(max_n=5), mask_stacks(max_n=5), st.data())
def test_mask_iou_matches_pycocotools(a, b, data):
    if a.shape[:2] != b.shape[:2] and data.draw(st.booleans()):
        b = np.asfortranarray(np.resize(b, a.shape[:2] + b.shape[2:]))
    dt, gt = pm.encode(a), pm.encode(b)
    crowd = data.draw(hnp.arrays(np.uint8, len(gt), elements=st.sampled_from([0, 1])))
    want = pm.iou(dt, gt, crowd)
    got = dm.iou(dt, gt, crowd)
    assert got.shape == (len(dt), len(gt)) and got.dtype == np.float64
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(ref.iou(dt, gt, crowd), want)


def test_mask_iou_values_by_hand():
    a = np.zeros((4, 4), np.uint8)
    a[:2, :2] = 1  # 4 pixels
    b = np.zeros((4, 4), np.uint8)
    b[:2, :] = 1  # 8 pixels, contains a
    dt, gt = [dm.encode(a)], [dm.encode(b)]
    assert dm.iou(dt, gt, [0])[0, 0] == 0.5
    assert dm.iou(dt, gt, [1])[0, 0] == 1.0  # crowd: inter / area(dt)
    assert dm.iou(gt, dt, [1])[0, 0] == 0.5
    other_size = [dm.encode(np.ones((5, 4), np.uint8))]
    assert dm.iou(dt, other_size, [0])[0, 0] == -1 == pm.iou(dt, other_size, [0])[0, 0]
    far = np.zeros((5, 4), np.uint8)
    far[4, 3] = 1  # boxes do not overlap: 0, not -1
    assert dm.iou(dt, [dm.encode(far)], None)[0, 0] == 0 == pm.iou(dt, [dm.encode(far)], [0])[0, 0]


def test_iou_empty_inputs_give_empty_arrays():
    r = [dm.encode(np.ones((2, 2), np.uint8))]
    assert dm.iou([], r, [0]).shape == (0, 1)
    assert dm.iou(r, [], []).shape == (1, 0)
    assert dm.iou(np.zeros((0, 4)), np.zeros((3, 4)), [0, 0, 0]).shape == (0, 3)
    assert dm.iou([], [], None).shape == (0, 0)


@given(hnp.arrays(np.float64, st.tuples(st.integers(0, 8), st.just(4)),
                  elements=st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0, 7.5]) | st.floats(-10, 10)),
       hnp.arrays(np.float64, st.tuples(st.integers(1, 8), st.just(4)),
                  elements=st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0, 7.5]) | st.floats(-10, 10)),
       st.data())
def test_box_iou_matches_pycocotools(dt, gt, data):
    crowd = data.draw(hnp.arrays(np.uint8, len(gt), elements=st.sampled_from([0, 1])))
    want = pm.iou(dt, gt, crowd)
    want = np.zeros((len(dt), len(gt))) if isinstance(want, list) else want
    got = dm.iou(dt, gt, crowd)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(dm.iou(dt.tolist(), gt.tolist(), crowd.astype(bool)), want)
    np.testing.assert_array_equal(ref.iou(dt, gt, crowd), want)


# ------------------------------------------------------------------------------------------------
# polygons, boxes and uncompressed RLEs

COORD = st.sampled_from([-1.0, 0.0, 0.1, 0.3, 0.5, 0.7, 1.0, 1.5, 2.5, 3.0, 4.4, 5.0, 6.5, 9.9, 10.0, 12.0]) \
    | st.floats(-3, 14, allow_nan=False, width=32)


@given(st.integers(0, 11), st.integers(0, 11),
       st.lists(st.lists(COORD, min_size=0, max_size=16), min_size=1, max_size=3))
def test_polygons_match_pycocotools(h, w, polys):
    polys = [p for p in polys if len(p) != 4] or [[1.0, 1.0, 5.0, 2.0, 3.0, 6.0]]
    if len(polys[0]) <= 4:
        polys.insert(0, [0.5, 0.5, 8.0, 1.0, 4.0, 9.0])
    want = pm.frPyObjects(polys, h, w)
    got = dm.frPyObjects(polys, h, w)
    if w > 0:  # pycocotools writes garbage counts for w == 0 (see test_zero_width_polygon)
        assert got == want
    for p, rle in zip(polys, got):
        assert ref.poly_to_rle(p, h, w) == rle
        if len(p) > 4:
            assert dm.frPyObjects(p, h, w) == rle  # a single flat polygon


def test_polygon_vertices_on_rounding_edges():
    rng = np.random.default_rng(1)
    for _ in range(300):
        h, w = rng.integers(1, 30, 2)
        k = rng.integers(3, 9)
        xy = (rng.integers(-10, 160, 2 * k) / 5.0 + rng.choice([0.0, 0.1, -0.1, 0.5], 2 * k)).tolist()
        want = pm.frPyObjects([xy], int(h), int(w))
        assert dm.frPyObjects([xy], int(h), int(w)) == want
        assert [ref.poly_to_rle(xy, int(h), int(w))] == want


def test_real_scale_polygons():
    rng = np.random.default_rng(2)
    for _ in range(20):
        cx, cy, r = rng.uniform(0, 640), rng.uniform(0, 480), rng.uniform(5, 200)
        t = np.sort(rng.uniform(0, 2 * np.pi, rng.integers(3, 40)))
        rad = r * rng.uniform(0.5, 1.0, t.size)
        xy = np.stack([cx + rad * np.cos(t), cy + rad * np.sin(t)], 1).ravel().tolist()
        want = pm.frPyObjects([xy], 480, 640)
        assert dm.frPyObjects([xy], 480, 640) == want
        assert [ref.poly_to_rle(xy, 480, 640)] == want


@pytest.mark.parametrize("scale", [1.0, 37.0, 2500.0])
def test_steep_and_large_polygons(scale):
    """Near-vertical edges (whose column crossings are solved, not walked) at growing sizes,
    partly outside the image, against pycocotools."""
    rng = np.random.default_rng(int(scale))
    h, w = int(60 * scale) if scale < 100 else 4000, int(50 * scale) if scale < 100 else 900
    for _ in range(120):
        k = int(rng.integers(3, 10))
        x = rng.uniform(-0.2, 1.2, k) * w
        y = rng.uniform(-0.2, 1.2, k) * h
        if rng.random() < 0.5:  # thin and tall: mostly y-major edges with slopes near 0 and 1
            x = x[0] + rng.normal(0, 0.02 * w + 1, k)
        xy = np.stack([x, y], 1).round(int(rng.integers(0, 4))).ravel().tolist()
        assert dm.frPyObjects([xy], h, w) == pm.frPyObjects([xy], h, w)


def test_zero_width_polygon():
    # pycocotools returns counts that do not sum to h * w here; detkit returns the empty mask.
    assert dm.frPyObjects([[1, 2, 3, 4, 5, 6]], 10, 0) == [{"size": [10, 0], "counts": b"0"}]
    assert dm.frPyObjects([[1, 2, 3, 4, 5, 6]], 0, 10) == pm.frPyObjects([[1, 2, 3, 4, 5, 6]], 0, 10)


@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 6), st.just(4)),
                  elements=st.sampled_from([0.0, 0.2, 0.5, 1.0, 2.5, 3.0]) | st.floats(-2, 12, width=32)),
       st.integers(1, 10), st.integers(1, 10))
def test_boxes_match_pycocotools(boxes, h, w):
    want = pm.frPyObjects(boxes, h, w)
    assert dm.frPyObjects(boxes, h, w) == want
    assert dm.frPyObjects(boxes.tolist(), h, w) == want  # pycocotools needs an ndarray here
    assert dm.frPyObjects(boxes.astype(np.float32).astype(np.float64).tolist()[0], h, w) == \
        pm.frPyObjects(boxes[:1].astype(np.float32).astype(np.float64), h, w)[0]
    assert ref.frPyObjects(boxes, h, w) == want


@given(st.lists(st.integers(0, 6), min_size=0, max_size=12))
def test_uncompressed_rles_match_pycocotools(counts):
    total = sum(counts)
    obj = {"size": [1, total], "counts": counts}
    want = pm.frPyObjects([obj], 99, 99)
    assert dm.frPyObjects([obj], 99, 99) == want  # the RLE keeps its own size
    assert dm.frPyObjects(obj, 99, 99) == want[0]
    assert ref.frPyObjects(obj, 99, 99) == want[0]
    # Non-canonical counts (zero runs inside) are kept as given and handled like pycocotools.
    rle = want[0]
    assert dm.area(rle) == pm.area(rle)
    assert dm.merge([rle]) == pm.merge([rle])
    if total:
        np.testing.assert_array_equal(dm.decode(rle), pm.decode(rle))
        other = pm.encode(np.asfortranarray((np.arange(total) % 3 == 0).reshape(1, total).astype(np.uint8)))
        n_other = len(ref.string_to_counts(other["counts"]))
        for intersect in (False, True):
            for pair in ([rle, other], [other, rle]):
                got = dm.merge(pair, intersect)
                dense = np.logical_and if intersect else np.logical_or
                np.testing.assert_array_equal(dm.decode(got), dense(pm.decode(rle), pm.decode(other)))
                # pycocotools' merge buffer holds h * w + 1 counts: more zero runs overflow its heap.
                if len(counts) + n_other <= total + 1:
                    assert got == pm.merge(pair, intersect)
        np.testing.assert_array_equal(dm.iou([rle], [other], [1]), pm.iou([rle], [other], [1]))
        if dm.area(rle):
            np.testing.assert_array_equal(dm.toBbox(rle), pm.toBbox(rle))




def test_bytearray_counts_are_compressed_strings():
    # pycocotools reads a bytearray as the compressed string; it must not be taken for run lengths.
    rle = pm.encode(np.asfortranarray(np.eye(6, dtype=np.uint8)))
    as_bytearray = {"size": rle["size"], "counts": bytearray(rle["counts"])}
    assert dm.area(as_bytearray) == pm.area(rle) == 6
    np.testing.assert_array_equal(dm.decode(as_bytearray), np.eye(6))

@st.composite
def zero_run_rles(draw, total):
    """Uncompressed RLEs of `total` pixels with zero-length runs anywhere (leading, inside, trailing)."""
    cuts = sorted(draw(st.lists(st.integers(0, total), max_size=8)))
    counts = [b - a for a, b in zip([0] + cuts, cuts + [total])]
    for _ in range(draw(st.integers(0, 4))):
        i = draw(st.integers(0, len(counts)))
        counts[i:i] = [0, 0] if draw(st.booleans()) else [0]
    return counts


@given(st.data(), st.integers(0, 12), st.integers(2, 3), st.booleans())
def test_merge_of_zero_run_rles_is_exact(data, total, n, intersect):
    # Two RLEs can both sit on zero-length runs with pixels still to come (e.g. both start with
    # [0, 0, ...]); the merge must not stop there (pycocotools does, returning counts that do not
    # sum to h * w).
    objs = [{"size": [1, total], "counts": data.draw(zero_run_rles(total))} for _ in range(n)]
    got = dm.merge(objs, intersect)
    dense = np.stack([np.repeat(np.arange(len(o["counts"])) % 2, o["counts"]) for o in objs]).astype(bool)
    want = dense.all(0) if intersect else dense.any(0)
    np.testing.assert_array_equal(dm.decode(got)[0], want)
    if n == 2 and sum(len(o["counts"]) for o in objs) <= total + 1:  # within pycocotools' buffer
        rles = pm.frPyObjects(objs, 1, total)
        theirs = pm.merge(rles, intersect)
        if sum(ref.string_to_counts(theirs["counts"])) == total:  # pycocotools got it right
            assert dm.merge(rles, intersect) == theirs


@given(st.lists(st.integers(0, 2**24 - 1) | st.integers(0, 2**31 - 1), min_size=1, max_size=8))
def test_string_round_trip_of_large_counts(counts):
    total = sum(counts)
    if total > 2**31 - 1:
        counts = [c // len(counts) for c in counts]
        total = sum(counts)
    obj = {"size": [1, total], "counts": counts}
    got = dm.frPyObjects(obj, 1, 1)
    # pycocotools' string buffer holds 6 characters per count, terminator included: counts needing
    # 6 characters (>= 2**24) overflow its heap, so compare only below that.
    if max(counts) < 2**24:
        assert got == pm.frPyObjects(obj, 1, 1)
    assert got["counts"] == ref.counts_to_string(counts)
    assert ref.string_to_counts(got["counts"]) == counts
    assert int(dm.area(got)) == sum(counts[1::2])
    assert dm.area({"size": [1, total], "counts": got["counts"].decode()}) == dm.area(got)  # str counts


# ------------------------------------------------------------------------------------------------
# errors

GOOD = {"size": [2, 2], "counts": b"04"}


@pytest.mark.parametrize("bad, exc, match", [
    (np.zeros((2, 2), np.int64), TypeError, "bimask must have dtype uint8 or bool"),
    (np.zeros((2, 2), np.float32), TypeError, "dtype uint8 or bool"),
    ([[0, 1]], TypeError, "bimask must be a numpy array"),
    (np.zeros(4, np.uint8), ValueError, r"shape \(H, W\) or \(H, W, N\)"),
    (np.zeros((1, 2, 2, 1), np.uint8), ValueError, "got shape"),
])
def test_encode_errors(bad, exc, match):
    with pytest.raises(exc, match=match):
        dm.encode(bad)


@pytest.mark.parametrize("bad, exc, match", [
    ("04", TypeError, "rleObjs must be (an RLE dict or )?a list"),
    ([[2, 2]], TypeError, r"rleObjs\[0\] must be an RLE dict"),
    ([{"size": [2, 2]}], ValueError, "must have keys 'size' and 'counts'"),
    ([{"counts": b"4"}], ValueError, "must have keys"),
    ([{"size": [2], "counts": b"4"}], ValueError, r"\['size'\] must be \[height, width\]"),
    ([{"size": 4, "counts": b"4"}], ValueError, r"must be \[height, width\]"),
    ([{"size": [2.0, 2], "counts": b"4"}], TypeError, "height must be an integer"),
    ([{"size": [2, -2], "counts": b"4"}], ValueError, "width must be >= 0"),
    ([{"size": [2**16, 2**16], "counts": b"4"}], ValueError, "at most 2147483647 pixels"),
    ([{"size": [2**70, 0], "counts": b"0"}], ValueError, "height must be at most 2147483647"),
    ([{"size": [0, 2**40], "counts": b"0"}], ValueError, "width must be at most 2147483647"),
    ([GOOD, {"size": [2, 2], "counts": b"05"}], ValueError, r"rleObjs\[1\]\['counts'\] run lengths sum to 5"),
    ([{"size": [2, 2], "counts": b"0 4"}], ValueError, "invalid character .* at position 1"),
    ([{"size": [2, 2], "counts": b"0p"}], ValueError, "invalid character"),
    ([{"size": [2, 2], "counts": "0\u00e9"}], ValueError, "non-ASCII"),
    ([{"size": [2, 2], "counts": b"0P"}], ValueError, "string ends inside a number"),
    ([{"size": [2, 2], "counts": b"PPPPPPPPPPPP1"}], ValueError, "longer than 12 characters"),
    ([{"size": [2, 2], "counts": b"01@"}], ValueError, "negative or does not fit"),
    ([{"size": [2, 2], "counts": b"0ooooooo1"}], ValueError, "negative or does not fit"),
    ([{"size": [2, 2], "counts": [1, -1, 4]}], ValueError, r"run lengths must be in \[0, 2\*\*32\)"),
    ([{"size": [2, 2], "counts": [1.0, 3.0]}], TypeError, "compressed string .* or a 1-D sequence"),
    ([{"size": [2, 2], "counts": None}], TypeError, "compressed string"),
    ([{"size": [2, 2], "counts": [1, 2]}], ValueError, "sum to 3, but 'size' 2 x 2 has 4 pixels"),
])
def test_malformed_rles_raise_everywhere(bad, exc, match):
    for fn in (dm.decode, dm.area, dm.toBbox, dm.merge):
        with pytest.raises(exc, match=match):
            fn(bad)
    if isinstance(bad, list) and isinstance(bad[0], dict):
        with pytest.raises(exc, match=match.replace("rleObjs", "dt")):
            dm.iou(bad, [GOOD], [0])


def test_decode_and_merge_errors():
    with pytest.raises(ValueError, match="at least one RLE"):
        dm.decode([])
    other = {"size": [1, 4], "counts": b"4"}
    with pytest.raises(ValueError, match=r"same size to decode together: rleObjs\[0\] is 2 x 2, rleObjs\[1\] is 1 x 4"):
        dm.decode([GOOD, other])
    with pytest.raises(ValueError, match=r"same size to merge"):
        dm.merge([GOOD, other])
    with pytest.raises(TypeError, match="rleObjs must be a list of RLE dicts"):
        dm.merge(GOOD)


@pytest.mark.parametrize("dt, gt, crowd, exc, match", [
    ([GOOD], [GOOD], [0, 1], ValueError, r"iscrowd must have shape \(1,\)"),
    ([GOOD], [GOOD], [[0]], ValueError, "iscrowd must have shape"),
    ([GOOD], [GOOD], [0.5], TypeError, "iscrowd must hold integers"),
    ([GOOD], [[0, 0, 1, 1]], [0], TypeError, "dt and gt must be of the same kind"),
    ([GOOD, [0, 0, 1, 1]], [GOOD], [0], TypeError, "dt must be a list of RLE dicts or of"),
    ([[0, 0, 1]], [[0, 0, 1, 1]], [0], TypeError, "dt must be a list of RLE dicts or of"),
    (np.zeros((2, 3)), np.zeros((1, 4)), [0], ValueError, r"dt boxes must have shape \(N, 4\)"),
    (np.zeros(4), np.zeros((1, 4)), [0], ValueError, r"dt boxes must have shape \(N, 4\)"),
    ([[0, 0, np.nan, 1]], [[0, 0, 1, 1]], [0], ValueError, "dt must be finite"),
    ("abc", [[0, 0, 1, 1]], [0], TypeError, "dt must be a list of RLE dicts"),
    ([[0, 0, 1, 1]], {"a": 1}, [0], TypeError, "gt must be a list"),
    (np.array([["a"] * 4]), [[0, 0, 1, 1]], [0], TypeError, "dt must hold real numbers"),
])
def test_iou_errors(dt, gt, crowd, exc, match):
    with pytest.raises(exc, match=match):
        dm.iou(dt, gt, crowd)


@pytest.mark.parametrize("obj, h, w, exc, match", [
    ([[1, 2, 3, 4, 5, 6]], -1, 5, ValueError, "h must be a non-negative integer"),
    ([[1, 2, 3, 4, 5, 6]], 5, 2.0, TypeError, "w must be a non-negative integer"),
    ([[1, 2, 3, 4, 5, 6]], 2**16, 2**16, ValueError, "h \\* w must be at most"),
    ([[1, 2, 3, 4, 5, 6]], 2**32, 0, ValueError, "h must be at most 2147483647"),
    ([[1, 2, 3, 4]], 0, 2**70, ValueError, "w must be at most 2147483647"),
    ([], 5, 5, TypeError, "pyobj must be an"),
    ("poly", 5, 5, TypeError, "pyobj must be an"),
    ([None], 5, 5, TypeError, r"pyobj\[0\] must be a box, a polygon or an RLE dict"),
    (np.zeros((2, 3)), 5, 5, ValueError, r"pyobj boxes must have shape \(N, 4\)"),
    (np.array([[0, 0, np.inf, 1]]), 5, 5, ValueError, "pyobj must be finite"),
    ([[0, 0, 1, 1], [0, 0, 1, 1, 2, 2]], 5, 5, ValueError, "read as boxes"),
    ([[0, 0, 1, 1, 2, np.nan]], 5, 5, ValueError, r"pyobj\[0\] coordinates must be finite and within"),
    ([[0, 0, 1, 1, 2, 1e9]], 5, 5, ValueError, r"pyobj\[0\] coordinates must be finite and within \+-1e8, got 1000000000.0"),
    ([[0, 0, 1e7, 0, 1e7, 1e7, 0, 1e7] * 40], 5, 5, ValueError, "too long to rasterise"),
    ([[0, 0, 1, 1, "a", 2]], 5, 5, TypeError, "pyobj\\[0\\] must hold real numbers"),
    ([{"size": [1, 2], "counts": [1, 2]}], 5, 5, ValueError, r"pyobj\[0\]\[0\]\['counts'\] run lengths sum to 3"),
    ({"size": [1, 2], "counts": "x"}, 5, 5, ValueError, r"pyobj\[0\]\['counts'\] is not a valid compressed"),
])
def test_fr_py_objects_errors(obj, h, w, exc, match):
    with pytest.raises(exc, match=match):
        dm.frPyObjects(obj, h, w)


def test_inputs_are_not_mutated_and_aliases():
    masks = np.asfortranarray(random_blobs(np.random.default_rng(3), 9, 9, 2))
    before = masks.copy()
    rles = dm.encode(masks)
    np.testing.assert_array_equal(masks, before)
    assert dm.to_bbox is dm.toBbox and dm.fr_py_objects is dm.frPyObjects
    polys = [[1.0, 1.0, 6.0, 2.0, 3.0, 7.0]]
    dm.frPyObjects(polys, 9, 9)
    assert polys == [[1.0, 1.0, 6.0, 2.0, 3.0, 7.0]]
    assert dm.iou(rles, rles, np.array([True, False])).shape == (2, 2)


# ------------------------------------------------------------------------------------------------
# real COCO annotations and results

def test_coco_val2014_annotations_and_segm_results(shared_data):
    """Every segmentation of instances_val2014_100 (polygons and crowd RLEs) and of the cocoapi
    fake segm results: RLE, area, box and all per-image IoUs equal pycocotools'."""
    import json

    coco = json.loads((shared_data / "coco" / "instances_val2014_100.json").read_text())
    results = json.loads((shared_data / "coco" / "instances_val2014_fakesegm100_results.json").read_text())
    sizes = {im["id"]: (im["height"], im["width"]) for im in coco["images"]}

    def to_rle(segm, h, w, lib):
        if isinstance(segm, list):
            return lib.merge(lib.frPyObjects(segm, h, w))
        if isinstance(segm["counts"], list):
            return lib.frPyObjects(segm, h, w)
        return segm

    by_image: dict = {}
    for ann in coco["annotations"]:
        h, w = sizes[ann["image_id"]]
        want = to_rle(ann["segmentation"], h, w, pm)
        got = to_rle(ann["segmentation"], h, w, dm)
        assert got == want
        assert dm.area(got) == pm.area(want)
        np.testing.assert_array_equal(dm.toBbox(got), pm.toBbox(want))
        by_image.setdefault(ann["image_id"], ([], [], []))[0].append(got)
        by_image[ann["image_id"]][1].append(ann["iscrowd"])
    for res in results:
        if res["image_id"] in by_image:
            by_image[res["image_id"]][2].append(res["segmentation"])
    assert sum(len(v[2]) for v in by_image.values()) > 100
    for gts, crowd, dts in by_image.values():
        if dts:
            np.testing.assert_array_equal(dm.iou(dts, gts, crowd), pm.iou(dts, gts, crowd))
            np.testing.assert_array_equal(dm.iou(gts, gts, crowd), pm.iou(gts, gts, crowd))


def test_concurrent_calls_agree():
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(5)
    masks = random_blobs(rng, 120, 160, 12)
    rles = dm.encode(masks)
    crowd = np.arange(12) % 3 == 0
    want_iou, want_merge = dm.iou(rles, rles[::-1], crowd), dm.merge(rles)
    polys = [[5.0, 5.0, 150.0, 20.0, 80.0, 110.0]] * 4

    def work(_):
        return (dm.iou(rles, rles[::-1], crowd), dm.merge(rles), dm.encode(masks), dm.decode(rles),
                dm.frPyObjects(polys, 120, 160))

    with ThreadPoolExecutor(4) as pool:
        for got_iou, got_merge, enc, dec, fr in pool.map(work, range(16)):
            np.testing.assert_array_equal(got_iou, want_iou)
            assert got_merge == want_merge and enc == rles and fr == pm.frPyObjects(polys, 120, 160)
            np.testing.assert_array_equal(dec, masks)
