"""The paper's ablations (Sec. 4.5: Tables 3-4, Figs. 4-5) on the synthetic benchmark.

Trains every variant of `mgpn_keras.tuning.variants.paper_variants` with train.py's
`train()` (same data, epochs, schedule and seed; selection on val, metrics on test) and
writes a Markdown report laid out like the paper's Table 3, plus trainable parameters
and training time, and the same numbers as JSON.

Usage:
    python benchmarks/ablations.py [--epochs 8] [--variants model1,mgpn,...]
        [--data-dir data/synthetic] [--runs-dir runs/ablations]
        [--markdown docs/ablations.md] [--json docs/ablations.json]

Each variant's run folder is `RUNS_DIR/<key>`; a finished run with the same config is
reused, an unfinished one resumed, so an interrupted benchmark continues where it stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

METRICS = ("R1@0.3", "R1@0.5", "R1@0.7", "R5@0.5", "mIoU")


def run_variant(variant, base, manifest, runs_dir: str, verbose: int) -> dict:
    """Train (or reuse) one variant; returns its row of the report."""
    from mgpn_keras.config import load_config
    from mgpn_keras.model import build_mgpn, count_trainable_parameters
    from mgpn_keras.runs.paths import RunPaths
    from mgpn_keras.training.trainer import train

    cfg = variant.config(base)
    run_dir = os.path.join(runs_dir, variant.key)
    record_path = os.path.join(run_dir, "ablation.json")
    if os.path.exists(record_path) and load_config(RunPaths(run_dir).config) == cfg:
        with open(record_path, encoding="utf-8") as f:
            return json.load(f)
    start = time.time()
    results = train(cfg, manifest, run_dir, verbose=verbose)
    seconds = time.time() - start
    with open(os.path.join(run_dir, "summary.json"), encoding="utf-8") as f:
        summary = json.load(f)
    row = {
        "key": variant.key, "group": variant.group, "label": variant.label,
        "overrides": variant.overrides,
        "model": {k: getattr(cfg.model, k) for k in (
            "use_fine_grained", "use_conditioned_interaction", "use_choice_comparison",
            "coarse_encoder", "candidate_features", "comparison", "hidden_size")},
        "trainable_parameters": count_trainable_parameters(build_mgpn(cfg)),
        "epochs": cfg.train.epochs,
        "best_epoch": summary.get("best_epoch"),
        "train_seconds": round(summary.get("train_seconds_this_process", seconds), 1),
        "total_seconds": round(seconds, 1),
        "test": results.get("test"), "val": results.get("val"),
    }
    from mgpn_keras.atomic import write_json

    write_json(record_path, row, indent=2)
    return row


NOTES = """\
## How the variants are built

- **Components (Table 3).** Without the conditioned interaction (sec-fuse.) the fused map is
  the concatenation [A_B, A_C] of the candidate features (the reference's commented-out
  alternative); without the choice comparison (comp.) the relation map is ReLU(1x1 conv
  2C -> C) of the fused map, then the ranker. Model (2), fine-grained encoders without the
  conditioned interaction, builds the moment map from the fine-grained video features (the
  reference's commented-out `generator_layer(vis_finegrained)`); otherwise they would reach
  no output and (2) would equal (1). The fine-grained query encoder has no consumer in (2) and
  is not built. Without sec-fuse. the co-attention's video-summary score (C + 1 weights) has no
  consumer; it is still counted in Params.
- **Coarse encoder (Table 4).** Bi-GRU (MGPN), Bi-LSTM, or pre-norm Transformer blocks (4
  heads, sinusoidal positions), as many layers as `model.gru_layers`.
- **Candidate features (Fig. 4).** With one kind only, it stands in for the other everywhere
  (conditioned gate and comparison inputs), so the network's shape is unchanged.
- **Comparison module (Fig. 5).** SC: 2D-TAN's stacked full convolutions, 8 layers of 5 x 5
  (its Charades-STA/TACoS setting), channels 2C -> C -> ... -> C, ReLU and the valid-cell mask
  after each, `same` padding. NL: the reference's `NoNLocalModule` (1x1 reduction 2C -> C, then
  2 embedded-Gaussian non-local blocks with zero-initialised BatchNorm), attending over the valid
  cells only. Both take the enhanced fused map of Sec. 3.7 as the paper says. RaNet's graph
  attention (GA) is not implemented.
- **Hidden size (Fig. 5).** The paper's 128 / 256 / 512 are half, equal to and twice its default;
  here half and twice the synthetic preset's 64.
- **Same budget, not convergence.** On this benchmark every network first sits on a loss
  plateau (about 0.075) where it ranks moments by their prior, until it starts to match query
  and video; the epoch at which that happens differs between variants. A variant that leaves
  the plateau late, or not within the budget, scores low: its number measures learning speed
  under the common budget, not the variant at convergence (each run's curve is in
  `runs/ablations/<key>/logs/epochs.csv`).
- One seed per variant: differences of a point or two are within what another seed could
  give. The synthetic benchmark is not ActivityNet or TACoS; compare the variants with each
  other, not with the paper's numbers.
"""


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.2f}"


def _mark(flag: bool) -> str:
    return "✓" if flag else "✗"


def markdown_report(rows: list[dict], base, epochs: int, elapsed: float) -> str:
    """The report: a Table-3 layout for the components, one table per other study."""
    head_metrics = " | ".join(METRICS)
    lines = [
        "# Ablations on the synthetic benchmark",
        "",
        "Generated by `python benchmarks/ablations.py` "
        f"(preset `{base.name}`: hidden size {base.model.hidden_size}, N = {base.model.num_clips}; "
        f"{epochs} epochs, batch {base.train.batch_size}, seed {base.train.seed}, learning rate "
        f"{base.train.learning_rate:g} with decay at epochs {base.train.lr_decay_epochs}). "
        "Every variant is trained by train.py's `train()` with the same data, schedule and seed; "
        "the best epoch is selected on val and the numbers are **test** recall in percent (R1@0.5 = "
        "Rank@1 at IoU 0.5). Best ep.: the selected epoch. Params are trainable parameters; time is "
        "the training wall time "
        f"(2 shared CPU cores, {platform.processor() or platform.machine()}; other jobs ran at the "
        f"same time, so times are rough). Whole benchmark: {elapsed / 60:.0f} min.",
        "",
        "## Components (paper Table 3)",
        "",
        "sec-enc.: fine-grained encoders (Sec. 3.5); sec-fuse.: conditioned interaction (Sec. 3.6); "
        "comp.: choice comparison (Sec. 3.7).",
        "",
        f"| Model | sec-enc. | sec-fuse. | comp. | {head_metrics} | Best ep. | Params | Time |",
        "|---|:-:|:-:|:-:|" + "--:|" * (len(METRICS) + 3),
    ]
    for row in rows:
        if row["group"] != "Table 3":
            continue
        m = row["model"]
        lines.append(f"| {row['label']} | {_mark(m['use_fine_grained'])} | "
                     f"{_mark(m['use_conditioned_interaction'])} | {_mark(m['use_choice_comparison'])} | "
                     + _metric_cells(row) + " |")
    titles = {"Table 4": "Coarse encoder (paper Table 4)",
              "Fig. 4": "Candidate features (paper Fig. 4)",
              "Fig. 5": "Comparison module and hidden size (paper Fig. 5)"}
    mgpn = next((r for r in rows if r["key"] == "mgpn"), None)
    for group, title in titles.items():
        group_rows = [r for r in rows if r["group"] == group]
        if not group_rows:
            continue
        lines += ["", f"## {title}", "", f"| Variant | {head_metrics} | Best ep. | Params | Time |",
                  "|---|" + "--:|" * (len(METRICS) + 3)]
        for row in ([mgpn] if mgpn else []) + group_rows:
            label = row["label"]
            if row["key"] == "mgpn":
                label = f"MGPN (Bi-GRU, both features, group conv, hidden {row['model']['hidden_size']})"
            lines.append(f"| {label} | " + _metric_cells(row) + " |")
    return "\n".join(lines) + "\n\n" + NOTES


def _metric_cells(row: dict) -> str:
    test = row.get("test") or {}
    cells = [_pct(test.get(k)) for k in METRICS]
    cells.append(f"{row['best_epoch']}/{row['epochs']}")
    cells.append(f"{row['trainable_parameters']:,}")
    cells.append(f"{row['train_seconds'] / 60:.1f} min")
    return " | ".join(cells)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, help="epochs of every variant (default: the preset's, 8)")
    parser.add_argument("--variants", help="comma-separated variant keys (default: all)")
    parser.add_argument("--data-dir", default=os.path.join("data", "synthetic"),
                        help="where the synthetic benchmark and its shards live")
    parser.add_argument("--runs-dir", default=os.path.join("runs", "ablations"),
                        help="one run folder per variant (default: runs/ablations)")
    parser.add_argument("--markdown", default=os.path.join("docs", "ablations.md"))
    parser.add_argument("--json", default=os.path.join("docs", "ablations.json"))
    parser.add_argument("--verbose", type=int, default=0,
                        help="train()'s verbosity (0: one line per variant)")
    args = parser.parse_args(argv)

    from mgpn_keras.config import apply_overrides, preset
    from mgpn_keras.training.data import prepare_synthetic
    from mgpn_keras.tuning.variants import paper_variants, variant_by_key

    base = preset("synthetic")
    if args.epochs:
        base = apply_overrides(base, {"train.epochs": args.epochs})
    variants = paper_variants(base)
    if args.variants:
        variants = [variant_by_key(base, key.strip()) for key in args.variants.split(",") if key.strip()]
    manifest = prepare_synthetic(base, args.data_dir, verbose=False)
    rows, start = [], time.time()
    for k, variant in enumerate(variants):
        t0 = time.time()
        row = run_variant(variant, base, manifest, args.runs_dir, args.verbose)
        rows.append(row)
        test = row["test"] or {}
        print(f"[{k + 1}/{len(variants)}] {variant.key:14s} params {row['trainable_parameters']:>9,}  "
              + "  ".join(f"{m} {_pct(test.get(m))}" for m in METRICS)
              + f"  train {row['train_seconds'] / 60:.1f} min ({time.time() - t0:.0f} s now)", flush=True)
    elapsed = sum(r["total_seconds"] for r in rows)
    for path in (args.markdown, args.json):
        if os.path.dirname(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
    from mgpn_keras.atomic import write_json, write_text

    write_text(args.markdown, markdown_report(rows, base, base.train.epochs, elapsed))
    write_json(args.json, {"preset": base.name, "epochs": base.train.epochs, "seed": base.train.seed,
                           "split": "test", "variants": rows}, indent=2)
    print(f"wrote {args.markdown} and {args.json} ({(time.time() - start) / 60:.1f} min this run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
