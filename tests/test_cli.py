"""The command line: `detkit demo` runs end to end and reports native vs reference timings."""

import io
import subprocess
import sys

import pytest

from detkit import cli


def test_demo_prints_results_and_timing_table():
    out = io.StringIO()
    assert cli.run_demo(out) == 0
    text = out.getvalue()
    for result in ("nms(iou>0.5) keeps", "roi_align: 300 RoIs", "242,991 anchors", "recall@0.5 1.000",
                   "Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]",
                   "Pascal VOC on the same data"):
        assert result in text
    if "pycocotools on the same data" in text:  # pycocotools is a test dependency, not a runtime one
        assert "identical stats: True" in text
    for op in ("nms 10,000", "batched_nms 10,000 / 80 classes", "box_iou 1,000 x 1,000",
               "roi_align 300 RoIs", "anchors, 5-level FPN", "sigmoid_focal_loss 1,000,000",
               "selective_search single"):
        row = next(line for line in text.splitlines() if line.startswith(f"| {op}"))
        native_ms, reference_ms = (float(c) for c in row.strip("|").split("|")[1:3])
        assert native_ms > 0 and reference_ms > 0


def test_main_rejects_bad_thread_count():
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        cli.main(["--threads", "0", "demo"])


def test_console_entry_point_help():
    result = subprocess.run([sys.executable, "-m", "detkit.cli", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "demo" in result.stdout
