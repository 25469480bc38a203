"""`mgpn export`: a trained run -> a SavedModel for TensorFlow Serving."""

from __future__ import annotations

import argparse
import json

from mgpn_keras.cli.arguments import HelpFormatter, add_logging_arguments
from mgpn_keras.config import LAYOUT_SETTINGS, PRECISIONS

DESCRIPTION = """\
Write a SavedModel whose serving_default signature takes query (string), video_features
(float32 [batch, clips, width], raw clip features) and duration (float32 seconds) and
returns start, end and score [batch, k]: the top-k moments after NMS. Tokenisation, word
vectors and feature averaging are in the graph, which loads without mgpn_keras. Videos
longer than the window (--window-seconds) are retrieved by overlapping windows in the graph.

Input: a training run folder (--run-dir) and the vocabulary and word vectors of the
prepared data it names (or --manifest). Output: the integer version folder --out
(saved_model.pb, variables/, assets/, mgpn_export.json), written under a hidden name and
renamed when complete, so a server watching the base path never loads half of it.

Example:
  mgpn export --run-dir runs/tacos-20261128-101500 --out export/mgpn/1
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "export", help="export a trained run as a SavedModel for TensorFlow Serving",
        description=DESCRIPTION, formatter_class=HelpFormatter)
    parser.add_argument("--run-dir", "--model", dest="run_dir", required=True, metavar="DIR",
                        help="the training run folder, or a model preset folder (config.json, "
                             "model.weights.h5, metadata.json, assets/), such as a run's model/")
    parser.add_argument("--out", required=True,
                        help="an integer version folder, e.g. export/mgpn/1")
    parser.add_argument("--weights", help="a .weights.h5 file (default: the run's best "
                        "checkpoint, else its latest backup)")
    parser.add_argument("--manifest", help="the prepared data set's manifest (default: the one "
                        "recorded in the run folder)")
    parser.add_argument("--top-k", type=int, help="moments per query (default: the preset's "
                        "largest recall, 5)")
    parser.add_argument("--nms-threshold", type=float,
                        help="NMS threshold (default: the preset's eval.nms_threshold)")
    parser.add_argument("--layout", choices=LAYOUT_SETTINGS,
                        help="the 2D stage's layout in the graph (default: the run's eval.layout, "
                        "'auto': the one measured faster for the preset; all give the same moments)")
    parser.add_argument("--precision", choices=PRECISIONS,
                        default="float32",
                        help="dtype policy of the exported layers (default float32); "
                        "mixed_bfloat16 is faster on CPUs with bfloat16 instructions, and its "
                        "scores are float32 but not bit-equal (see docs/serving.md)")
    parser.add_argument("--window-seconds", type=float, metavar="S",
                        help="videos longer than S seconds are retrieved by overlapping windows "
                        "of S seconds in the graph (default: eval.window_seconds, else twice the "
                        "99th-percentile moment length of the training split, recorded by "
                        "`mgpn prepare`)")
    parser.add_argument("--window-overlap-seconds", type=float, metavar="S",
                        help="overlap of consecutive windows (default: half a window)")
    parser.add_argument("--window-top-m", type=int, metavar="M",
                        help="with a model trained with --long-videos: rank every window by its "
                        "presence head first and run the 2D stage on the M best only (default: "
                        "the run's eval.window_top_m)")
    parser.add_argument("--whole-videos", action="store_true",
                        help="no windows: every video is averaged whole, as the reference does")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --out")
    add_logging_arguments(parser, quiet_help="print nothing on success")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from mgpn_keras.runs.resolve import check_model

    check_model(args.run_dir, weights=args.weights, manifest=args.manifest)  # before TensorFlow
    from mgpn_keras.serving.export import EXPORT_INFO_NAME, export_run

    out = export_run(args.run_dir, args.out, weights=args.weights, manifest=args.manifest,
                     top_k=args.top_k, nms_threshold=args.nms_threshold,
                     window_seconds=args.window_seconds,
                     window_overlap_seconds=args.window_overlap_seconds,
                     whole_videos=args.whole_videos, overwrite=args.overwrite,
                     layout=args.layout, precision=args.precision,
                     window_top_m=args.window_top_m)
    if args.quiet:
        return 0
    with open(out / EXPORT_INFO_NAME, encoding="utf-8") as f:
        info = json.load(f)
    print(f"exported {info['preset']} to {out}: top {info['top_k']} moments after NMS at "
          f"{info['nms_threshold']:g}, features of width {info['input_size']} averaged to "
          f"{info['num_sample_clips']} clips, vocabulary of {info['vocabulary_size']} words; "
          f"{info['layout']} layout, {info['precision']}")
    if info.get("window_seconds") is not None:
        print(f"videos longer than {info['window_seconds']:g} s are retrieved by windows of "
              f"that length every {info['window_stride_seconds']:g} s")
    print(f"serve it with: docker run -p 8501:8501 -v \"{out.parent.resolve()}:/models/mgpn\" "
          f"-e MODEL_NAME=mgpn tensorflow/serving")
    return 0
