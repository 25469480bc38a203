"""The authors' PyTorch code: its numbers of REFERENCE.md section 3 and the harness
(`shared/tools/refharness/speed_ref.py`) that measures it again in the same run as ours."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REFHARNESS = os.path.join(os.path.dirname(ROOT), "shared", "tools", "refharness")
REF_PYTHON = os.path.expanduser("~/.cache/mgpn-ref-venv/bin/python")

# REFERENCE.md section 3: torch 2.13 CPU, 2 threads, same kind of machine.
REFERENCE = {
    "charades_i3d": {"inference": {"batch": 32, "median_s": 1.680, "queries_per_s": 19.0, "peak_rss_gb": 0.8},
                     "train": {"batch": 32, "median_s": 4.777, "samples_per_s": 6.70, "peak_rss_gb": 1.5},
                     "parameters_with_unused_conv": 5_242_115, "parameters_used": 3_668_739},
    "activitynet": {"inference": {"batch": 32, "median_s": 6.432, "queries_per_s": 4.98, "peak_rss_gb": 2.2},
                    "train": {"batch": 32, "median_s": 20.88, "samples_per_s": 1.53, "peak_rss_gb": 4.6},
                    "parameters_with_unused_conv": 5_124_355, "parameters_used": 3_550_979},
    "tacos": {"inference": {"batch": 32, "median_s": 27.19, "queries_per_s": 1.18, "peak_rss_gb": 7.8},
              "train": {"batch": 8, "median_s": 21.14, "samples_per_s": 0.378, "peak_rss_gb": 4.5},
              "parameters_with_unused_conv": 6_621_443, "parameters_used": 5_048_067},
}


def train_batch(preset_name: str) -> int:
    """The batch the reference's training step was measured at (32 where it was not)."""
    return REFERENCE[preset_name]["train"]["batch"] if preset_name in REFERENCE else 32


def run_reference(presets, *, refharness: str, ref_python: str, max_wait: float, retries: int,
                  quiet_below: float, quick: bool, timeout: float, caller: str) -> dict:
    """The authors' code through refharness/speed_ref.py, in this run, with the same
    quiet-machine settings as ours; its JSON report, with "exit_status". `caller` names the
    script in the error messages."""
    script = os.path.join(refharness, "speed_ref.py")
    if not os.path.isfile(script) or not os.path.isfile(ref_python):
        raise SystemExit(f"{caller}: needs {script} and its venv {ref_python}; set "
                         f"them up with `bash {os.path.join(refharness, 'setup.sh')} <MGPN git dir>` "
                         "(see its README)")
    out = os.path.join(tempfile.mkdtemp(prefix="mgpn-ref-speed-"), "reference.json")
    cmd = [ref_python, script, "--datasets", ",".join(presets), "--json", out,
           "--max-wait", str(max_wait), "--retries", str(retries), "--quiet-below", str(quiet_below)]
    if quick:
        cmd.append("--quick")
    print("reference: " + " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, text=True, timeout=timeout)
    if not os.path.isfile(out):
        raise SystemExit(f"{caller}: the reference run exited with {proc.returncode} and wrote no JSON")
    with open(out, encoding="utf-8") as f:
        report = json.load(f)
    report["exit_status"] = proc.returncode
    return report
