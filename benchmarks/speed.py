"""Speed and memory of MGPN per preset: both layouts, the served SavedModel, training steps,
side by side with the authors' PyTorch code.

The protocol of REFERENCE.md section 3 (the authors' PyTorch code on the same kind of
2-core machine): query length L = 10, random inputs, 2 warm-ups then 5 timed iterations,
the median reported (min and max beside it). Per preset it measures

- trainable parameters (the paper's Table 2 counts the reference's unused 1.57M conv,
  which this port does not build);
- inference queries/s at batch 32: the model in its dense layout (`build_mgpn`, which
  computes every cell as the reference does) and its valid-cell layout
  (`build_mgpn(cfg, layout="valid_cells")`), each with and without XLA, in float32 and mixed
  bfloat16;
- the served path ("served" rows): the SavedModel `mgpn export` writes (layout "auto",
  float32 and `--precision mixed_bfloat16`), loaded in a fresh process that imports only
  tensorflow and tensorflow_text, called through `serving_default` at batch 32 (strings,
  raw clip features and durations in; tokenisation, averaging, NMS and top-k included);
- the training step (one `train_on_batch` of the model the trainer compiles: forward,
  ScaledIoUBCE, backward, Adam with global_clipnorm 10) at the batch the reference was
  measured at;
- the peak resident memory of the process. Every configuration runs in its own
  subprocess, so the peaks are separate.

Configurations that are slow on CPU (dense TACoS, XLA) run fewer iterations or a smaller
batch; the JSON and the table say which.

The machine may be shared. Before each configuration the script waits (up to `--max-wait`
s) for other processes to leave the CPUs, records how many cores they kept busy while the
configuration ran ("others"), and with `--retries N` measures a disturbed configuration
again, reporting the least disturbed attempt (chosen by contention, never by speed).

With `--with-reference` it runs the side-by-side plan (per preset: both layouts, served
float32 and mixed_bfloat16, the training step at the reference's batch) and then the
authors' code through `shared/tools/refharness/speed_ref.py` in the same run, and reports
ours / reference ratios against the targets (served float32 >= 3x on charades_i3d, 4x on
activitynet, 8x on tacos; training step >= 2x on all three); where a target is missed it
prints what bounds it (FLOPs per query of the 2D stage, achieved GFLOP/s).

Usage:
    python benchmarks/speed.py --with-reference --retries 2 --max-wait 120 \
        --output benchmarks/results/speed_side_by_side.json --markdown docs/benchmarks.md
                                                    # side by side, ~15-20 min on 2 cores
    python benchmarks/speed.py --smoke --with-reference   # seconds-minutes: tiny configs, quick reference
    python benchmarks/speed.py                      # the full plan (XLA, bf16 rows), 15-20 min
    python benchmarks/speed.py --retries 2 --max-wait 60 --quiet-below 0.5   # on a busy machine
    python benchmarks/speed.py --presets charades_i3d --only inference
    python benchmarks/speed.py --smoke --output /tmp/speed.json --markdown /tmp/speed.md
    python benchmarks/speed.py --render benchmarks/results/speed.json   # tables only

Writes JSON (`--output`) and the Markdown tables into `--markdown` between the markers
`<!-- speed.py:begin -->` and `<!-- speed.py:end -->` (text outside them is kept).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BEGIN, END = "<!-- speed.py:begin -->", "<!-- speed.py:end -->"
if ROOT not in sys.path:  # this checkout's mgpn_keras, also when run as a script
    sys.path.insert(0, ROOT)

from harness import model_jobs, quiet, worker  # noqa: E402  (benchmarks/harness)
from harness.flops import flops_2d_per_query  # noqa: E402
from harness.reference import REF_PYTHON, REFERENCE, REFHARNESS, run_reference, train_batch  # noqa: E402
from harness.results import machine_info, utc_now, versions, write_markdown_section  # noqa: E402

PAPER_TABLE2 = {"tacos": "6.62M"}
# Inference targets: a multiple of the reference's queries/s (REFERENCE.md section 3).
TARGETS = {"charades_i3d": 2.0, "activitynet": 3.0, "tacos": 4.0}
TACOS_TRAIN_MEMORY_GB = 8.0
# Targets of the side-by-side run: ours / reference, both measured in the same run.
SERVED_TARGETS = {"charades_i3d": 3.0, "activitynet": 4.0, "tacos": 8.0}
TRAIN_STEP_TARGET = 2.0

SMOKE_MODEL = dict(input_size=24, word_dim=12, num_sample_clips=32, pool_stride=4, num_clips=8,
                   hidden_size=16, gru_layers=1, num_scale_layers=[3, 2], groups=4, kernel_size=3)


# ----------------------------------------------------------------------------- plan


def _job(preset, task, path, xla=False, precision="float32", batch=32, warmup=2, iterations=5,
         note="", model=None):
    """path: "dense" or "valid_cells" (the layout, in process) or "served" (the SavedModel)."""
    return dict(preset=preset, task=task, path=path, xla=xla, precision=precision, batch=batch,
                warmup=warmup, iterations=iterations, note=note, model=model or {}, tokens=10)


def side_by_side_plan(presets):
    """What `--with-reference` measures of ours: both layouts and the served SavedModel in
    float32, the served mixed_bfloat16, the training step at the reference's batch."""
    jobs = []
    for p in presets:
        tacos = p == "tacos"
        few = dict(warmup=1, iterations=3, note="1 warm-up, 3 timed") if tacos else {}
        jobs += [
            _job(p, "inference", "dense", **few),
            _job(p, "inference", "valid_cells"),
            _job(p, "inference", "served"),
            _job(p, "inference", "served", precision="mixed_bfloat16", **few),
            _job(p, "train", "dense", batch=train_batch(p)),
        ]
    return jobs


def full_plan(presets, only):
    """The configurations of the full run. Iterations are cut where one batch takes long."""
    jobs = []
    slow_xla = "XLA's CPU convolutions are slow: fewer iterations"
    for p in presets:
        tacos = p == "tacos"
        if only in (None, "inference"):
            jobs += [
                _job(p, "inference", "dense", warmup=1 if tacos else 2, iterations=3 if tacos else 5,
                     note="1 warm-up, 3 timed (one batch takes ~15 s)" if tacos else ""),
                _job(p, "inference", "valid_cells"),
                _job(p, "inference", "served"),
                _job(p, "inference", "served", precision="mixed_bfloat16", warmup=1, iterations=3),
                _job(p, "inference", "dense", xla=True, batch=8 if tacos else 32,
                     warmup=1, iterations=1 if tacos else 2,
                     note=("batch 8, 1 warm-up, 1 timed: " if tacos else "1 warm-up, 2 timed: ") + slow_xla),
                _job(p, "inference", "valid_cells", xla=True, warmup=1, iterations=3,
                     note="1 warm-up, 3 timed"),
                _job(p, "inference", "dense", precision="mixed_bfloat16", warmup=1,
                     iterations=3 if tacos else 5, note="1 warm-up, 3 timed" if tacos else "1 warm-up"),
                _job(p, "inference", "valid_cells", precision="mixed_bfloat16", warmup=1, iterations=5,
                     note="1 warm-up"),
            ]
        if only in (None, "train"):
            batch = train_batch(p)
            why = {"tacos": "the reference's measured batch (its config: 32)",
                   "activitynet": "the reference's measured batch (its config: 64)"}.get(p, "")
            jobs += [
                _job(p, "train", "dense", batch=batch, note=why),
                _job(p, "train", "dense", precision="mixed_bfloat16", batch=batch, warmup=1,
                     iterations=3, note="1 warm-up, 3 timed" + (f"; {why}" if why else "")),
            ]
            if p == "charades_i3d":
                jobs.append(_job(p, "train", "dense", xla=True, batch=1, warmup=1, iterations=1,
                                 note="batch 1, 1 warm-up, 1 timed: XLA's CPU gradient of the "
                                      "grouped convolutions is very slow"))
    return jobs


def smoke_plan():
    """Tiny configs, 1 warm-up and 1 timed call each: that the script's paths work. Dense
    with XLA is left out: the same `run_job` code as valid_cells with XLA, and
    benchmarks/gpu.py --dry-run compiles the dense layout with XLA."""
    tiny = dict(batch=4, warmup=1, iterations=1, model=SMOKE_MODEL, note="smoke")
    jobs = [_job("synthetic", "inference", "dense", **tiny),
            _job("synthetic", "inference", "valid_cells", **tiny),
            _job("synthetic", "inference", "valid_cells", xla=True, **tiny),
            _job("synthetic", "inference", "valid_cells", precision="mixed_bfloat16", **tiny)]
    # One served row: the bfloat16 export is the same code (tests/test_inference_layout.py
    # exports and reloads it).
    jobs.append(_job("synthetic", "inference", "served", **tiny))
    jobs.append(_job("synthetic", "train", "dense", **tiny))
    return jobs


# ----------------------------------------------------------------------------- measuring


def _worker_argv() -> list[str]:
    return [sys.executable, os.path.abspath(__file__), "--worker"]


def _worker_env() -> dict:
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, env.get("PYTHONPATH", "")]))
    return env


VERSIONS_REQUEST = {"versions": True}


def _serve_request(request: dict) -> dict:
    """The worker's handler: a job (`model_jobs.run_job`), or VERSIONS_REQUEST (the worker
    interpreter's versions, read in process: TensorFlow is loaded there anyway)."""
    if request == VERSIONS_REQUEST:
        return versions()
    return model_jobs.run_job(request)


def _run_in_subprocess(jobs: list[dict], timeout: float) -> list[dict]:
    """The jobs in one worker process (`model_jobs.run_job` each), their results in order."""
    return worker.run_batch(_worker_argv(), jobs, timeout, env=_worker_env(), cwd=ROOT,
                            on_failure=lambda job, message: dict(job, error=message))


# ----------------------------------------------------------------------------- report


def _speedup(result) -> float | None:
    ref = REFERENCE.get(result["preset"], {}).get(result["task"])
    if not ref or "error" in result:
        return None
    ours = result["per_s"]
    theirs = ref["queries_per_s"] if result["task"] == "inference" else ref["samples_per_s"]
    return round(ours / theirs, 2)


def summarise(results) -> dict:
    """Per preset: the parameters, the fastest float32 inference, and the targets."""
    summary = {}
    for p in sorted({r["preset"] for r in results}):
        rows = [r for r in results if r["preset"] == p and "error" not in r]
        entry = {}
        params = [r["trainable_parameters"] for r in rows if r["path"] in ("dense", "valid_cells")]
        if params:
            entry["trainable_parameters"] = params[0]
        if p in REFERENCE:
            entry["reference_parameters_with_unused_conv"] = REFERENCE[p]["parameters_with_unused_conv"]
            entry["reference_parameters_used"] = REFERENCE[p]["parameters_used"]
        inference = [r for r in rows if r["task"] == "inference" and r["precision"] == "float32"
                     and r["batch"] == 32]
        if inference and p in TARGETS:
            best = max(inference, key=lambda r: r["per_s"])
            need = TARGETS[p] * REFERENCE[p]["inference"]["queries_per_s"]
            entry["inference_target"] = {
                "queries_per_s_needed": round(need, 2), "best": f"{best['path']}, xla={best['xla']}",
                "queries_per_s": best["per_s"], "met": best["per_s"] >= need}
        train = [r for r in rows if r["task"] == "train" and r["precision"] == "float32" and not r["xla"]]
        if train and p in REFERENCE:
            t = train[0]
            entry["train_target"] = {"batch": t["batch"], "median_s": t["median_s"],
                                     "reference_median_s": REFERENCE[p]["train"]["median_s"],
                                     "met": t["median_s"] <= REFERENCE[p]["train"]["median_s"]}
            if p == "tacos":
                entry["train_target"]["peak_rss_gb"] = t["peak_rss_gb"]
                entry["train_target"]["memory_met"] = (t["batch"] >= 8
                                                       and t["peak_rss_gb"] <= TACOS_TRAIN_MEMORY_GB)
        summary[p] = entry
    return summary


def side_by_side(results, reference: dict, smoke: bool) -> dict:
    """Ours / reference, both measured in this run, against SERVED_TARGETS and TRAIN_STEP_TARGET."""
    rows = [r for r in results if "error" not in r]
    ref_rows = [r for r in reference.get("results", []) if "error" not in r and "per_s" in r]
    table = {}
    for ref_preset in sorted({r["preset"] for r in ref_rows}):
        ours_preset = "synthetic" if smoke else ref_preset  # smoke: tiny ours, quick reference

        def ours(task, path, precision="float32", _p=ours_preset):
            found = [r for r in rows if r["preset"] == _p and r["task"] == task and r["path"] == path
                     and r["precision"] == precision and not r["xla"]]
            return found[0] if found else None

        def ref(task, _p=ref_preset):
            found = [r for r in ref_rows if r["preset"] == _p and r["task"] == task]
            return found[0] if found else None

        entry = {"reference_disturbed": any(r.get("disturbed") for r in ref_rows if r["preset"] == ref_preset)}
        ref_inference = ref("inference")
        for key, row in (("served_float32", ours("inference", "served")),
                         ("served_mixed_bfloat16", ours("inference", "served", "mixed_bfloat16")),
                         ("dense_float32", ours("inference", "dense")),
                         ("valid_cells_float32", ours("inference", "valid_cells"))):
            if row is None or ref_inference is None:
                continue
            entry[key] = {"queries_per_s": row["per_s"], "reference_queries_per_s": ref_inference["per_s"],
                          "ratio": round(row["per_s"] / ref_inference["per_s"], 2), "layout": row.get("layout")}
        target = SERVED_TARGETS.get(ref_preset)
        served = entry.get("served_float32")
        if served and target:
            served["target"] = target
            served["met"] = served["ratio"] >= target
            if not served["met"] and not smoke:
                flops = flops_2d_per_query(ref_preset, served["layout"])
                need = target * served["reference_queries_per_s"]
                served["bound"] = {
                    "gflop_per_query_2d": round(flops / 1e9, 2),
                    "achieved_gflop_per_s": round(flops * served["queries_per_s"] / 1e9, 1),
                    "queries_per_s_needed": round(need, 2),
                    "gflop_per_s_needed": round(flops * need / 1e9, 1),
                    "reference_gflop_per_query_2d": round(flops_2d_per_query(ref_preset, "dense") / 1e9, 2)}
        train, ref_train = ours("train", "dense"), ref("train")
        if train and ref_train:
            t = {"batch": train["batch"], "reference_batch": ref_train["batch"], "median_s": train["median_s"],
                 "reference_median_s": ref_train["median_s"],
                 "ratio": round(ref_train["median_s"] / train["median_s"] * train["batch"] / ref_train["batch"], 2),
                 "target": TRAIN_STEP_TARGET}
            t["met"] = t["ratio"] >= TRAIN_STEP_TARGET
            if not t["met"] and not smoke:
                flops = 3 * flops_2d_per_query(ref_preset, "dense")  # forward + backward ~ 3x forward
                t["bound"] = {"gflop_per_sample_2d": round(flops / 1e9, 2),
                              "achieved_gflop_per_s": round(flops * train["per_s"] / 1e9, 1)}
            entry["train_step"] = t
        table[ref_preset] = entry
    return table


def side_by_side_markdown(report) -> str:
    table = report.get("side_by_side")
    if not table:
        return ""
    ref = report.get("reference_run", {})
    lines = ["", "### Side by side with the reference (same run)", "",
             f"The authors' code (Huntersxsx/MGPN {ref.get('reference_commit', '?')}, "
             "`shared/tools/refharness/speed_ref.py`) measured in the same run, same machine. "
             "Ratio = ours / reference queries/s (training: reference s/step over ours at the same batch)."
             + (" Smoke mode: tiny configs against a quick reference run; the ratios mean nothing." if report["smoke"] else ""),
             "", "| preset | path | ours | reference | ratio | target | met | what bounds it |",
             "|---|---|---|---|---|---|---|---|"]
    for p, e in table.items():
        flag = " (reference DISTURBED)" if e.get("reference_disturbed") else ""
        for key, label in (("served_float32", "served float32"), ("served_mixed_bfloat16", "served mixed_bfloat16"),
                           ("dense_float32", "in-process dense"), ("valid_cells_float32", "in-process valid_cells")):
            r = e.get(key)
            if not r:
                continue
            bound = r.get("bound")
            why = (f"{bound['gflop_per_query_2d']} GFLOP/query (2D, {r['layout']}; reference dense "
                   f"{bound['reference_gflop_per_query_2d']}) at {bound['achieved_gflop_per_s']} GFLOP/s; "
                   f"target needs {bound['gflop_per_s_needed']} GFLOP/s") if bound else ""
            met = "" if "met" not in r else ("yes" if r["met"] else "no")
            lines.append(f"| {p}{flag} | {label} ({r.get('layout')}) | {r['queries_per_s']:.2f} q/s | "
                         f"{r['reference_queries_per_s']:.2f} q/s | {r['ratio']:.2f}x | "
                         f"{'>= %gx' % r['target'] if 'target' in r else ''} | {met} | {why} |")
        t = e.get("train_step")
        if t:
            bound = t.get("bound")
            why = (f"{bound['gflop_per_sample_2d']} GFLOP/sample (2D, fwd+bwd) at {bound['achieved_gflop_per_s']} "
                   "GFLOP/s") if bound else ""
            lines.append(f"| {p}{flag} | training step, batch {t['batch']} | {t['median_s']:.3f} s | "
                         f"{t['reference_median_s']:.3f} s (batch {t['reference_batch']}) | {t['ratio']:.2f}x | "
                         f">= {t['target']:g}x | {'yes' if t['met'] else 'no'} | {why} |")
    return "\n".join(lines) + "\n"


def print_side_by_side(report) -> None:
    text = side_by_side_markdown(report)
    if text:
        print(text, flush=True)


def _fmt_note(r):
    attempts = r.get("attempts") or []
    extra = ""
    if len(attempts) > 1:
        others = ", ".join(f"{a['other_processes_cores']:.1f}" for a in attempts
                           if a.get("other_processes_cores") is not None)
        extra = f"least disturbed of {len(attempts)} runs (others {others})"
    return "; ".join(filter(None, [r.get("note", ""), extra]))


def _fmt_load(r):
    others = r.get("other_processes_cores")
    return "" if others is None else f"{others:.1f}"


def _fmt_time(r):
    return f"{r['median_s']:.3f} ({r['min_s']:.3f}-{r['max_s']:.3f})"


def markdown(report) -> str:
    m, v = report["machine"], report["versions"]
    lines = [
        f"Measured {report['date']} on {m['cpu']}, {m['cpu_cores']} CPU cores, {m['memory_gib']} GiB; "
        f"TensorFlow {v.get('tensorflow')}, Keras {v.get('keras')}, Python {v.get('python')}. "
        f"GPU: {m['gpu']}. Total wall time {report['wall_s'] / 60:.1f} min"
        + (" (smoke mode: tiny configs, numbers mean nothing)" if report["smoke"] else "") + ".",
        "",
        "Median seconds per batch (min-max of the timed iterations); CPU s = the process's CPU "
        "seconds per batch (median; at most 2x the wall time on 2 cores, less when other processes "
        "share the cores); x ref = our queries (or samples) per second over the reference's "
        "(REFERENCE.md section 3, same kind of machine). Peak RSS is the benchmark process's, one "
        "process per row. Others = cores that other processes kept busy, on average, while the row ran "
        "(this machine is shared; 0 = alone, 2 = both cores contended).",
        "",
        "### Parameters",
        "",
        "| preset | trainable (ours) | reference, used | reference incl. unused conv | paper Table 2 |",
        "|---|---|---|---|---|",
    ]
    for p, s in report["summary"].items():
        if "trainable_parameters" not in s:
            continue
        ref_used = s.get("reference_parameters_used")
        ref_all = s.get("reference_parameters_with_unused_conv")
        lines.append(f"| {p} | {s['trainable_parameters']:,} | {f'{ref_used:,}' if ref_used else '-'} | "
                     f"{f'{ref_all:,}' if ref_all else '-'} | {PAPER_TABLE2.get(p, '-')} |")
    for task, title, unit in (("inference", "Inference", "queries/s"), ("train", "Training step", "samples/s")):
        rows = [r for r in report["results"] if r["task"] == task]
        if not rows:
            continue
        lines += ["", f"### {title}", "",
                  f"| preset | model | XLA | precision | batch | s/batch median (min-max) | CPU s | {unit} | x ref | "
                  "peak RSS GB | others | note |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            if "error" in r:
                lines.append(f"| {r['preset']} | {r['path']} | {'yes' if r['xla'] else 'no'} | {r['precision']} | "
                             f"{r['batch']} | failed | | | | {r.get('peak_rss_gb', '')} | | {r['error'][:120]} |")
                continue
            speed = _speedup(r)
            lines.append(
                f"| {r['preset']} | {r['path']} | {'yes' if r['xla'] else 'no'} | {r['precision']} | {r['batch']} | "
                f"{_fmt_time(r)} | {r['cpu_s']:.2f} | {r['per_s']:.2f} | {'' if speed is None else f'{speed:.2f}x'} | "
                f"{r['peak_rss_gb']:.2f} | {_fmt_load(r)} | {_fmt_note(r)} |")
        ref_rows = [(p, REFERENCE[p][task]) for p in report["summary"] if p in REFERENCE]
        if ref_rows:
            lines.append("")
            lines.append("Reference (PyTorch, REFERENCE.md 3): " + "; ".join(
                f"{p} batch {ref['batch']}: {ref['median_s']} s, "
                f"{ref.get('queries_per_s', ref.get('samples_per_s'))} {unit}, {ref['peak_rss_gb']} GB"
                for p, ref in ref_rows) + ".")
    targets = []
    for p, s in report["summary"].items():
        if "inference_target" in s:
            t = s["inference_target"]
            targets.append(f"| {p} | inference >= {TARGETS[p]:g}x reference = {t['queries_per_s_needed']} q/s | "
                           f"{t['queries_per_s']} q/s ({t['best']}) | {'yes' if t['met'] else 'no'} |")
        if "train_target" in s:
            t = s["train_target"]
            targets.append(f"| {p} | training step <= reference {t['reference_median_s']} s (batch {t['batch']}) | "
                           f"{t['median_s']} s | {'yes' if t['met'] else 'no'} |")
            if "memory_met" in t:
                targets.append(f"| {p} | trains at batch >= 8 within {TACOS_TRAIN_MEMORY_GB:g} GB | batch {t['batch']}, "
                               f"{t['peak_rss_gb']} GB | {'yes' if t['memory_met'] else 'no'} |")
    if targets:
        lines += ["", "### Inference targets", "", "| preset | target | measured | met |", "|---|---|---|---|"]
        lines += targets
    return "\n".join(lines) + "\n" + side_by_side_markdown(report)



# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["charades_i3d", "activitynet", "tacos"])
    parser.add_argument("--only", choices=["inference", "train"], help="run one kind of measurement")
    parser.add_argument("--model", choices=["dense", "valid_cells", "served"],
                        help="run one layout's (or the served SavedModel's) configurations")
    parser.add_argument("--with-reference", action="store_true",
                        help="the side-by-side plan, then the authors' PyTorch code in the same run "
                             "(shared/tools/refharness), and ours / reference ratios against the targets")
    parser.add_argument("--refharness", default=REFHARNESS, help="the refharness folder (default %(default)s)")
    parser.add_argument("--ref-python", default=REF_PYTHON,
                        help="the reference venv's python, from refharness/setup.sh (default %(default)s)")
    parser.add_argument("--precision", choices=["float32", "mixed_bfloat16"], help="run one precision")
    parser.add_argument("--no-xla", action="store_true", help="skip the XLA configurations")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny configs in one subprocess, seconds; checks that the script works")
    parser.add_argument("--output", help="JSON file (default benchmarks/results/speed.json; "
                                         "a temporary file in smoke mode)")
    parser.add_argument("--markdown", help="Markdown file for the tables (default docs/benchmarks.md; "
                                           "none in smoke mode)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per subprocess")
    parser.add_argument("--max-wait", type=float, default=10,
                        help="seconds to wait before each configuration for other processes to "
                             "leave the CPUs (0: do not wait)")
    parser.add_argument("--retries", type=int, default=0,
                        help="measure a configuration again (up to this many times) when other "
                             "processes kept --quiet-below or more cores busy meanwhile; the least "
                             "disturbed attempt is reported, every attempt is kept in the JSON")
    parser.add_argument("--quiet-below", type=float, default=0.3,
                        help="busy cores (other processes) below which the machine counts as quiet")
    parser.add_argument("--render", metavar="JSON",
                        help="write the Markdown of an earlier run's JSON (no measuring)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker.serve(_serve_request, on_error=model_jobs.job_error)
    if args.render:
        with open(args.render, encoding="utf-8") as f:
            report = json.load(f)
        md = args.markdown or os.path.join(ROOT, "docs", "benchmarks.md")
        write_markdown_section(md, markdown(report), BEGIN, END)
        print(f"wrote {md}")
        return 0

    unknown = [p for p in args.presets if p not in REFERENCE and p != "charades_vgg"]
    if unknown and not args.smoke:
        parser.error(f"no plan for presets {unknown}; expected some of {sorted(REFERENCE)} or charades_vgg")
    started = time.time()
    if args.smoke:
        jobs = smoke_plan()
        # One worker for every job and the versions (no extra TensorFlow import for them).
        *results, versions_info = _run_in_subprocess(jobs + [VERSIONS_REQUEST], args.timeout)
        if "error" in versions_info:
            versions_info = versions(cwd=ROOT)
        output = args.output or os.path.join(tempfile.mkdtemp(prefix="mgpn-speed-"), "speed.json")
        md = args.markdown
    else:
        plan = side_by_side_plan(args.presets) if args.with_reference else full_plan(args.presets, args.only)
        jobs = [j for j in plan
                if (args.model is None or j["path"] == args.model)
                and (args.precision is None or j["precision"] == args.precision)
                and not (args.no_xla and j["xla"])]
        results = []
        for job in jobs:
            result = quiet.least_disturbed(lambda j=job: _run_in_subprocess([j], args.timeout)[0],
                                           args.retries, args.quiet_below, args.max_wait)
            results.append(result)
            status = result.get("error") or f"{result['median_s']:.3f} s, {result['per_s']:.2f}/s, " \
                                              f"{result['peak_rss_gb']:.2f} GB"
            print(f"{job['preset']:>13} {job['task']:>9} {job['path']:>11} xla={job['xla']!s:5} "
                  f"{job['precision']:>14} batch {job['batch']:>2}: {status}", flush=True)
        output = args.output or os.path.join(HERE, "results", "speed.json")
        md = args.markdown or os.path.join(ROOT, "docs", "benchmarks.md")
        versions_info = versions(cwd=ROOT)
    report = {
        "date": utc_now(),
        "smoke": bool(args.smoke),
        "machine": machine_info(),
        "versions": versions_info,
        "protocol": {"tokens": 10, "inputs": "random normal, all tokens valid",
                     "default_warmup": 2, "default_iterations": 5, "statistic": "median",
                     "train_step": "train_on_batch of the trainer's compile_model: forward, ScaledIoUBCE, "
                                   "backward, Adam(1e-3, global_clipnorm=10)",
                     "peak_memory": "ru_maxrss of the process running the configuration"},
        "reference": REFERENCE,
        "results": results,
        "wall_s": round(time.time() - started, 1),
    }
    report["summary"] = summarise(results)
    if args.with_reference:
        reference = run_reference(["charades_i3d"] if args.smoke else args.presets,
                                  refharness=args.refharness, ref_python=args.ref_python,
                                  max_wait=args.max_wait, retries=args.retries,
                                  quiet_below=args.quiet_below, quick=args.smoke,
                                  timeout=args.timeout * 4, caller="speed.py --with-reference")
        report["reference_run"] = {k: reference.get(k) for k in
                                   ("date", "reference_commit", "machine", "argv", "quick", "checks_failed",
                                    "exit_status", "results")}
        report["side_by_side"] = side_by_side(results, reference, args.smoke)
        report["wall_s"] = round(time.time() - started, 1)
        print_side_by_side(report)
    from mgpn_keras.atomic import write_json

    write_json(output, report, indent=2)
    print(f"wrote {output}")
    if md:
        write_markdown_section(md, markdown(report), BEGIN, END)
        print(f"wrote {md}")
    failed = [r for r in results if "error" in r]
    return 1 if failed and args.smoke else 0


if __name__ == "__main__":
    sys.exit(main())
