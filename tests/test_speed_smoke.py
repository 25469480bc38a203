"""benchmarks/speed.py runs (smoke mode: tiny configs) and writes its JSON and Markdown."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_speed_benchmark_smoke(tmp_path):
    out, md = tmp_path / "speed.json", tmp_path / "benchmarks.md"
    md.write_text("# Benchmarks\n\nHand-written text.\n")
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "speed.py"), "--smoke",
                           "--output", str(out), "--markdown", str(md)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["smoke"] is True
    for key in ("date", "machine", "versions", "protocol", "reference", "results", "summary", "wall_s"):
        assert key in report, key
    assert {"cpu", "cpu_cores", "gpu"} <= set(report["machine"])
    assert {"tensorflow", "keras"} <= set(report["versions"])
    seen = set()
    for r in report["results"]:
        assert "error" not in r, r
        for key in ("preset", "task", "path", "xla", "precision", "batch", "seconds", "median_s",
                    "min_s", "max_s", "per_s", "peak_rss_gb", "trainable_parameters"):
            assert key in r, key
        assert r["median_s"] > 0 and r["peak_rss_gb"] > 0
        assert len(r["seconds"]) == r["warmup"] + r["iterations"]
        seen.add((r["task"], r["path"], r["xla"]))
    assert {("inference", "dense", False), ("inference", "valid_cells", False),
            ("inference", "valid_cells", True), ("inference", "served", False), ("train", "dense", False)} <= seen
    served = [r for r in report["results"] if r["path"] == "served"]
    assert served and all(r["score_dtype"] == "float32" and r["export_s"] > 0 for r in served)
    text = md.read_text()
    assert "Hand-written text." in text and "<!-- speed.py:begin -->" in text and "| synthetic |" in text
