"""Shared fixtures and hypothesis strategies for the detkit tests."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

settings.register_profile("detkit", deadline=None, max_examples=150,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("detkit")

# Real third-party data (COCO files) lives beside the repository, never inside it.
SHARED_DATA = Path(os.environ.get("DETKIT_SHARED_DATA",
                                  Path(__file__).resolve().parents[2] / "shared" / "data"))


@pytest.fixture
def two_threads():
    """Native kernels may use two threads during the test (then the previous count again)."""
    import detkit

    before = detkit.get_num_threads()
    detkit.set_num_threads(2)
    yield
    detkit.set_num_threads(before)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared test data not found at {SHARED_DATA} (set DETKIT_SHARED_DATA)")
    return SHARED_DATA


@st.composite
def xyxy_boxes(draw, min_n: int = 0, max_n: int = 40, dtype=None, grid: bool = None):
    """(N, 4) valid xyxy boxes. Grid mode uses small integer coordinates, which produces exact
    ties, identical boxes, zero-area boxes and IoUs sitting exactly on simple thresholds."""
    n = draw(st.integers(min_n, max_n))
    dtype = dtype or draw(st.sampled_from([np.float32, np.float64]))
    grid = draw(st.booleans()) if grid is None else grid
    if grid:
        corner = draw(hnp.arrays(np.int64, (n, 2), elements=st.integers(-4, 8)))
        size = draw(hnp.arrays(np.int64, (n, 2), elements=st.integers(0, 6)))
    else:
        corner = draw(hnp.arrays(np.float64, (n, 2), elements=st.floats(-1e3, 1e3, width=32)))
        size = draw(hnp.arrays(np.float64, (n, 2), elements=st.floats(0, 300, width=32)))
    return np.concatenate([corner, corner + size], axis=1).astype(dtype)


@st.composite
def boxes_and_scores(draw, min_n: int = 0, max_n: int = 60):
    boxes = draw(xyxy_boxes(min_n=min_n, max_n=max_n))
    n = len(boxes)
    tied = draw(st.booleans())
    elements = st.sampled_from([0.0, 0.25, 0.5, 1.0]) if tied else st.floats(0, 1, width=32)
    scores = draw(hnp.arrays(np.float64, n, elements=elements)).astype(boxes.dtype)
    return boxes, scores


def random_boxes(rng: np.random.Generator, n: int, dtype=np.float64, scale: float = 100.0) -> np.ndarray:
    xy = rng.uniform(-scale, scale, size=(n, 2))
    wh = rng.uniform(0, scale / 2, size=(n, 2))
    return np.concatenate([xy, xy + wh], axis=1).astype(dtype)
