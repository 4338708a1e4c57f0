"""The benchmark model: a case is one workload timed under several implementations."""

from __future__ import annotations

import dataclasses
import importlib
from typing import Callable, Dict, List, Optional


@dataclasses.dataclass
class Case:
    """One workload.

    ``setup()`` builds the inputs once and returns ``{implementation name: zero-argument callable}``;
    an implementation whose peer is not installed is simply left out (use :func:`optional_import`).
    The implementation named ``"detkit"`` is the one every ratio is computed against.
    ``extra(seconds)``, when given, returns additional metrics to report (e.g. GB/s) from the detkit
    time. ``threads`` pins detkit's thread count for the case (None: leave the runner's setting).
    """

    name: str
    workload: str
    setup: Callable[[], Dict[str, Callable[[], object]]]
    extra: Optional[Callable[[float], Dict[str, float]]] = None
    threads: Optional[int] = 1
    repeats: int = 7
    slow_peers: tuple = ()  # implementations timed with fewer repeats (quadratic peers)


def optional_import(name: str):
    """The module if it is installed (and imports cleanly), else None."""
    try:
        return importlib.import_module(name)
    except Exception:  # noqa: BLE001 - a broken optional peer counts as absent
        return None


def all_cases() -> List[Case]:
    import pkgutil

    import bench.cases as pkg

    cases: List[Case] = []
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"bench.cases.{info.name}")
        cases.extend(getattr(module, "CASES", []))
    return cases
