"""detkit benchmark suite: native kernels vs the numpy reference vs installed peers.

Run from the repository root: ``python -m bench [--only SUBSTRING] [--threads N] [--quick]``.
Each module in ``bench/cases`` defines ``CASES``, a list of :class:`bench.core.Case`.
"""
