"""The single-pass native input checks behind detkit._validation, against numpy formulas."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from detkit import _C
from detkit._validation import as_boxes, check_finite

SPECIAL = st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 1e30])


@st.composite
def box_arrays(draw):
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    n = draw(st.integers(0, 3000))  # crosses the native block size (1024 rows)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    corner = rng.uniform(-50, 50, (n, 2))
    boxes = np.concatenate([corner, corner + rng.uniform(0, 20, (n, 2))], axis=1).astype(dtype)
    for _ in range(draw(st.integers(0, 3))):  # plant offenders anywhere
        if n:
            boxes[draw(st.integers(0, n - 1)), draw(st.integers(0, 3))] = draw(SPECIAL)
    return boxes


def _first(mask):
    hits = np.flatnonzero(mask)
    return int(hits[0]) if hits.size else -1


@given(box_arrays(), st.booleans())
def test_first_invalid_box_matches_numpy(boxes, xyxy):
    finite = np.isfinite(boxes).all(axis=1)
    low = boxes[:, :2] if xyxy else np.zeros_like(boxes[:, :2])
    ordered = (boxes[:, 2] >= low[:, 0]) & (boxes[:, 3] >= low[:, 1])
    assert _C.first_invalid_box(boxes, xyxy) == _first(~(finite & ordered))


@given(hnp.arrays(st.sampled_from([np.float32, np.float64]), st.integers(0, 3000),
                  elements=st.floats(width=32) | SPECIAL))
def test_first_non_finite_matches_numpy(values):
    assert _C.first_non_finite(values) == _first(~np.isfinite(values))


def test_native_checks_refuse_what_they_cannot_read_in_place():
    with pytest.raises(TypeError):
        _C.first_non_finite(np.zeros(4, np.float16))
    with pytest.raises(TypeError):
        _C.first_invalid_box(np.zeros((4, 8))[:, ::2], True)  # a copy would check the wrong memory


def test_python_layer_reports_the_first_offender_with_its_value():
    boxes = np.zeros((2000, 4), np.float32)
    boxes[1500, 2] = -1.0
    boxes[1700, 1] = np.nan
    with pytest.raises(ValueError, match=r"boxes must be finite, found nan at index \(1700, 1\)"):
        as_boxes(boxes)
    boxes[1700, 1] = 0
    with pytest.raises(ValueError, match=r"box 1500 is \[0.0, 0.0, -1.0, 0.0\]"):
        as_boxes(boxes)
    with pytest.raises(ValueError, match=r"x must be finite, found inf at index \(1, 0\)"):
        check_finite(np.array([[0.0], [np.inf]])[:, :], "x")
    with pytest.raises(ValueError, match=r"x must be finite, found -inf at index \(3,\)"):
        check_finite(np.array([0, 1, 2, -np.inf, 4], np.float32)[::1], "x")
    check_finite(np.arange(10.0)[::2], "x")  # strided: the numpy path, no error


def test_ragged_sequences_name_the_argument():
    import detkit

    with pytest.raises(ValueError, match="boxes1 must be a rectangular array, got a ragged sequence"):
        detkit.giou_loss([[0, 0, 1, 1], [0, 0, 1]], [[0, 0, 1, 1], [0, 0, 1, 1]])
    with pytest.raises(ValueError, match="match_quality_matrix must be a rectangular array"):
        detkit.Matcher(0.5, 0.5)([[1.0], [1.0, 2.0]])
