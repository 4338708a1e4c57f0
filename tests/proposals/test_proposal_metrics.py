"""Proposal metrics (detkit.eval): vs reference twins, single image vs dataset forms, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from detkit.eval import average_best_overlap, average_recall, best_overlaps, proposal_recall
from detkit.reference import proposals as ref
from tests.conftest import xyxy_boxes


@st.composite
def datasets(draw):
    images = draw(st.integers(1, 4))
    props = [draw(xyxy_boxes(max_n=15, grid=True)) for _ in range(images)]
    gts = [draw(xyxy_boxes(max_n=6, grid=True)) for _ in range(images)]
    labels = [np.arange(len(g)) % 3 for g in gts]
    return props, gts, labels


@given(datasets(), st.none() | st.integers(0, 10))
def test_metrics_match_reference(data, max_proposals):
    props, gts, labels = data
    thresholds = [0.0, 0.3, 0.5, 0.7, 1.0]
    total = sum(len(g) for g in gts)
    got = proposal_recall(props, gts, thresholds, max_proposals=max_proposals)
    if total == 0:
        assert np.isnan(got).all() and np.isnan(average_recall(props, gts))
        return
    np.testing.assert_allclose(got, ref.proposal_recall(props, gts, thresholds, max_proposals))
    mabo, abo = average_best_overlap(props, gts, labels, max_proposals=max_proposals)
    ref_mabo, ref_abo = ref.average_best_overlap(props, gts, labels, max_proposals)
    assert mabo == pytest.approx(ref_mabo) and abo.keys() == ref_abo.keys()
    for key in abo:
        assert abo[key] == pytest.approx(ref_abo[key])
    assert average_recall(props, gts, max_proposals=max_proposals) == pytest.approx(
        ref.average_recall(props, gts, max_proposals), abs=1e-4)


def test_single_image_equals_one_image_dataset():
    props = [[0, 0, 10, 10], [5, 5, 20, 20], [0, 0, 30, 30]]
    gts = [[0, 0, 10, 12], [6, 5, 20, 21]]
    np.testing.assert_allclose(best_overlaps(props, gts), best_overlaps([np.array(props)], [np.array(gts)]))
    assert proposal_recall(props, gts, 0.5) == 1.0
    np.testing.assert_allclose(best_overlaps(props, gts), [100 / 120, 210 / 239])  # 210 = 14 x 15 overlap, 239 = 224 + 225 - 210
    assert average_recall(props, gts) == pytest.approx(2 * np.mean(np.array([100 / 120, 210 / 239]) - 0.5))


def test_recall_counts_boxes_exactly_on_the_threshold():
    assert proposal_recall([[0, 0, 10, 10]], [[0, 0, 10, 20]], [0.5, 0.5000001]).tolist() == [1.0, 0.0]


def test_empty_cases():
    assert best_overlaps(np.zeros((0, 4)), [[0, 0, 1, 1]]).tolist() == [0.0]
    assert proposal_recall([], [[0, 0, 1, 1]], 0.5) == 0.0
    assert np.isnan(proposal_recall([[0, 0, 1, 1]], np.zeros((0, 4)), 0.5))
    mabo, abo = average_best_overlap([[0, 0, 1, 1]], np.zeros((0, 4)))
    assert np.isnan(mabo) and abo == {}
    assert average_recall([[0, 0, 2, 2]], [[0, 0, 2, 2]], max_proposals=0) == 0.0


def test_max_proposals_uses_the_first_ones():
    props = [[50, 50, 60, 60], [0, 0, 10, 10]]
    assert proposal_recall(props, [[0, 0, 10, 10]], 0.5, max_proposals=1) == 0.0
    assert proposal_recall(props, [[0, 0, 10, 10]], 0.5, max_proposals=2) == 1.0


@pytest.mark.parametrize("call, error, match", [
    (lambda: best_overlaps([np.zeros((1, 4))], [np.zeros((1, 4))] * 2), ValueError, "same images, got 1 and 2"),
    (lambda: best_overlaps([[0, 0, 1]], [[0, 0, 1, 1]]), ValueError, r"proposals must have shape \(N, 4\)"),
    (lambda: best_overlaps([[0, 0, 1, 1]], [[2, 0, 1, 1]]), ValueError, "gt_boxes must be xyxy boxes"),
    (lambda: best_overlaps([[0, 0, 1, 1]], [[0, 0, 1, 1]], max_proposals=-1), ValueError, "max_proposals"),
    (lambda: proposal_recall([[0, 0, 1, 1]], [[0, 0, 1, 1]], 1.5), ValueError, "iou_thresholds must be in"),
    (lambda: average_best_overlap([[0, 0, 1, 1]], [[0, 0, 1, 1]], [0, 1]), ValueError, "gt_labels must have shape"),
    (lambda: average_best_overlap([[0, 0, 1, 1]], [[0, 0, 1, 1]], [0.5]), TypeError, "gt_labels must hold integers"),
])
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_dataset_whose_first_image_is_an_empty_list():
    gt = [[[0, 0, 10, 10]], [[0, 0, 20, 10]]]
    np.testing.assert_array_equal(best_overlaps([[], [[0, 0, 10, 10]]], gt), [0.0, 0.5])
    np.testing.assert_array_equal(best_overlaps([[], []], gt), [0.0, 0.0])
    np.testing.assert_array_equal(best_overlaps([[[0, 0, 10, 10]], []], [[], [[0, 0, 1, 1]]]), [0.0])
    assert average_recall([[]], [[[0, 0, 10, 10]]]) == 0.0
    assert best_overlaps([], []).shape == (0,)
