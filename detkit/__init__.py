"""detkit: fast, numpy-native object-detection toolkit.

Native (C++/Cython) kernels under a small numpy API: box operations, NMS, RoI ops, anchors, coders
and losses (:mod:`detkit.ops`, re-exported here), region proposals (:mod:`detkit.proposals`), COCO
and Pascal VOC evaluation (:mod:`detkit.eval`), with a plain numpy twin of every kernel in
:mod:`detkit.reference`.
"""

from detkit._version import __version__
from detkit._C import get_num_threads as _get_num_threads
from detkit._C import set_num_threads as _set_num_threads
from detkit import eval, ops, proposals, reference  # noqa: A004  (detkit.eval, not the builtin)
from detkit.ops import *  # noqa: F401,F403  (the public box ops, re-exported at the top level)
from detkit.ops import __all__ as _ops_all


def set_num_threads(n: int) -> None:
    """Sets how many threads detkit's native kernels may use (default: all cores).

    Kernels only split work that is large enough to gain from it. The setting is process-wide.

    Parameters
    ----------
    n : int
        Number of threads, at least 1.
    """
    import numbers

    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    _set_num_threads(int(n))


def get_num_threads() -> int:
    """Returns how many threads detkit's native kernels may use."""
    return _get_num_threads()


__all__ = ["__version__", "set_num_threads", "get_num_threads", "ops", "proposals", "eval", "reference",
           *_ops_all]
