"""Reference grid anchors (numpy only): cell anchors shifted over feature-map grids."""

import numpy as np


def grid_anchors(cell_anchors, feature_map_sizes, strides, offset=0.0):
    """Anchors of every level, concatenated; rows ordered (level, y, x, cell anchor).

    cell_anchors[l] is an (A_l, 4) xyxy array centred on the origin, feature_map_sizes[l] is
    (h, w) and strides[l] is (stride_y, stride_x). A location's shift is (index + offset) * stride,
    computed in float64 and rounded once to the anchors' dtype before the addition.
    """
    levels = []
    for cells, (h, w), (sy, sx) in zip(cell_anchors, feature_map_sizes, strides):
        cells = np.asarray(cells)
        shift_x = ((np.arange(w) + offset) * sx).astype(cells.dtype)
        shift_y = ((np.arange(h) + offset) * sy).astype(cells.dtype)
        yy, xx = np.meshgrid(shift_y, shift_x, indexing="ij")
        shifts = np.stack([xx.ravel(), yy.ravel(), xx.ravel(), yy.ravel()], axis=1)
        levels.append((shifts[:, None, :] + cells[None, :, :]).reshape(-1, 4))
    if not levels:
        return np.zeros((0, 4))
    return np.concatenate(levels)
