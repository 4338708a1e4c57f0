"""Runs the benchmark cases and writes bench/results/latest.{json,md}.

Usage: python -m bench [--only SUBSTRING ...] [--threads N] [--quick] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

import detkit
from bench.core import all_cases, optional_import
from detkit._timing import median_seconds


def pin_peer_threads(threads: int) -> None:
    """Gives the peers the same thread budget as detkit, so ratios compare equal resources."""
    torch = optional_import("torch")
    if torch is not None:
        torch.set_num_threads(threads)
    cv2 = optional_import("cv2")
    if cv2 is not None:
        cv2.setNumThreads(threads)


def run_case(case, quick: bool, threads_override):
    threads = threads_override if threads_override is not None else case.threads
    previous = detkit.get_num_threads()
    if threads is not None:
        detkit.set_num_threads(threads)
    pin_peer_threads(threads if threads is not None else previous)
    try:
        impls = case.setup()
        times = {}
        for name, fn in impls.items():
            slow = name in case.slow_peers
            repeats = 1 if quick else (3 if slow else case.repeats)
            times[name] = median_seconds(fn, repeats=repeats, max_time=5.0 if quick else 30.0)
    finally:
        detkit.set_num_threads(previous)
    base = times.get("detkit")
    row = {
        "case": case.name,
        "workload": case.workload,
        "threads": threads if threads is not None else previous,
        "seconds": times,
        "speedup_vs": {k: v / base for k, v in times.items() if base and k != "detkit"},
    }
    if case.extra and base:
        row["extra"] = case.extra(base)
    return row


def markdown(rows) -> str:
    lines = ["| case | threads | detkit ms | peer | peer ms | detkit speed-up |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        base = r["seconds"].get("detkit")
        extra = ", ".join(f"{k} {v:.3g}" for k, v in r.get("extra", {}).items())
        name = r["case"] + (f" ({extra})" if extra else "")
        peers = [k for k in r["seconds"] if k != "detkit"] or ["-"]
        for i, peer in enumerate(peers):
            t = r["seconds"].get(peer)
            lines.append("| {} | {} | {} | {} | {} | {} |".format(
                name if i == 0 else "", r["threads"] if i == 0 else "",
                f"{base * 1e3:.3f}" if (base and i == 0) else "", peer,
                f"{t * 1e3:.3f}" if t else "-",
                f"{r['speedup_vs'][peer]:.1f}x" if peer in r["speedup_vs"] else "-"))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", nargs="*", default=None, help="run cases whose name contains one of these")
    parser.add_argument("--threads", type=int, default=None, help="override every case's thread count")
    parser.add_argument("--quick", action="store_true", help="one repeat per implementation (smoke run)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    parser.add_argument("--name", default="latest", help="base name of the result files")
    args = parser.parse_args(argv)

    cases = [c for c in all_cases() if not args.only or any(s in c.name for s in args.only)]
    rows = []
    for case in cases:
        t0 = time.perf_counter()
        row = run_case(case, args.quick, args.threads)
        rows.append(row)
        speed = ", ".join(f"{k} {v:.1f}x" for k, v in row["speedup_vs"].items())
        print(f"{case.name}: detkit {row['seconds'].get('detkit', float('nan')) * 1e3:.3f} ms; {speed}"
              f"  [{time.perf_counter() - t0:.1f}s]", flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"detkit": detkit.__version__, "python": sys.version.split()[0], "numpy": np.__version__,
            "machine": platform.machine(), "processor": platform.processor(), "date": time.strftime("%Y-%m-%d %H:%M")}
    (out / f"{args.name}.json").write_text(json.dumps({"meta": meta, "results": rows}, indent=2))
    table = markdown(rows)
    (out / f"{args.name}.md").write_text(table + "\n")
    print("\n" + table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
