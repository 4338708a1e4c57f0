"""Region proposals: graph-based segmentation and selective search."""

from detkit.proposals.selective_search import (
    COLOR_SPACES,
    MODES,
    felzenszwalb,
    selective_search,
    selective_search_settings,
)

__all__ = ["COLOR_SPACES", "MODES", "felzenszwalb", "selective_search", "selective_search_settings"]
