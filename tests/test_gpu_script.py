"""benchmarks/gpu.sh --dry-run: the GPU script's code on the CPU at tiny sizes, one JSON."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_gpu_script_dry_run_writes_every_section(tmp_path):
    out = tmp_path / "gpu.json"
    proc = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu.sh"), "--dry-run", "--output", str(out)],
                          capture_output=True, text=True, timeout=900, cwd=ROOT,
                          env={**__import__("os").environ, "PYTHON": sys.executable})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["dry_run"] is True and report["device"] == "/CPU:0" and report["ok"] is True
    parity = report["parity"]
    if not any("error" in r for r in parity):  # the fixtures are present
        assert {(r["fixture"], r["layout"]) for r in parity} == {
            (f, layout) for f in ("small", "small_gain") for layout in ("dense", "valid_cells")}
        assert all(r["max_abs_vs_reference"] <= 1e-4 for r in parity)
    combos = {(r["layout"], r["precision"], r["xla"]) for r in report["inference"] if "error" not in r}
    assert combos == {(layout, precision, xla) for layout in ("dense", "valid_cells")
                      for precision in ("float32", "mixed_bfloat16") for xla in (False, True)}
    assert all(r["queries_per_s"] > 0 for r in report["inference"])
    assert all("error" not in r and r["median_s"] > 0 for r in report["train_step"])
    epochs = report["synthetic_two_epochs"]
    assert len(epochs["epoch_s"]) == 2 and "test" in epochs["results"]
