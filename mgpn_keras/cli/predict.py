"""`mgpn predict`: query an exported SavedModel with a video's features and sentences."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mgpn_keras.cli.arguments import HelpFormatter, add_logging_arguments, add_runner_arguments
from mgpn_keras.cli.errors import UsageError

DESCRIPTION = """\
Load a SavedModel written by `mgpn export` (with tf.saved_model.load, as a server would)
and print the top-k moments (seconds) of each --query in the video whose raw clip features
are given; tokenisation, word vectors, normalisation, averaging and the windows of long
videos happen in the graph.

Inputs: the export's version folder (--export), the video's raw (clips, width) features
(--features: a .npy file, or an .hdf5 file / folder of .npy files with --video-id) and its
--duration, or a video file (--video, with the --spec and --backbone its features come
from, as `mgpn extract` makes them), and one or more --query. Outputs: a table (or --json) on stdout; with --plot, a
PNG of the score map and a timeline.

Examples:
  mgpn predict --export export/mgpn/1 --features video.npy --duration 30.5 \\
      --query "person opens the door" --gt 3.1 9.8 --plot out.png
  mgpn predict --export export/mgpn/1 --features charades_vgg_rgb.hdf5 --video-id 3MSZA \\
      --duration 30.5 --query "person opens the door"
  mgpn predict --export export/mgpn/1 --video 3MSZA.mp4 --spec charades_i3d \\
      --backbone i3d_savedmodel/ --query "person opens the door"
  mgpn predict --export export/mgpn/1 --features charades_vgg_rgb.hdf5 \\
      --batch pairs.jsonl --out moments.jsonl --workers 4
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "predict", help="query an exported SavedModel: top-k moments of sentences in a video",
        description=DESCRIPTION, formatter_class=HelpFormatter)
    parser.add_argument("--export", "--model", dest="export", required=True, metavar="DIR",
                        help="the version folder, e.g. export/mgpn/1, or a model preset or "
                             "training run folder (the serving graph is then built in memory)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--features", help="the video's (clips, width) features: "
                        "a .npy file, or an .hdf5 file / folder of .npy files with --video-id")
    source.add_argument("--video", help="a video file: its features are extracted first with "
                        "--spec and --backbone, as `mgpn extract` does, and its duration read")
    parser.add_argument("--video-id", help="the video's key in an .hdf5 file or .npy folder")
    parser.add_argument("--duration", type=float, help="video length, seconds (required with "
                        "--features; with --video, read from the file)")
    parser.add_argument("--spec", help="with --video: the feature spec the model was trained "
                        "on (a named spec or a .json/.yaml file, see `mgpn extract --help`)")
    parser.add_argument("--backbone", help="with --video: the backbone those features came from "
                        "(SavedModel folder, .keras file, kaggle:/tfhub: handle)")
    parser.add_argument("--query", action="append",
                        help="a sentence (repeat for several)")
    parser.add_argument("--batch", metavar="PAIRS.jsonl",
                        help="batch retrieval as a Beam pipeline: one JSON object a line, "
                        "{\"video\": ID (in --features) or \"features\": FILE.npy, \"duration\": "
                        "S, \"query\": TEXT, \"id\": optional}; answers go to --out, one line "
                        "each, in order (a line that cannot be answered gets its error, naming "
                        "file and line; the others are answered)")
    parser.add_argument("--out", metavar="MOMENTS.jsonl", help="with --batch: the answers")
    parser.add_argument("--gt", type=float, nargs=2, metavar=("START", "END"),
                        help="ground-truth moment in seconds: shown with IoU and on the plot")
    parser.add_argument("--plot", help="write a PNG of the score map and a timeline")
    parser.add_argument("--json", action="store_true", help="print the moments as JSON")
    add_runner_arguments(parser)
    add_logging_arguments(parser, quiet_help="no 'plot written' note")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from mgpn_keras.serving.predict import error_message, format_moments, read_features

    if args.batch is not None:
        return _run_batch(args)
    if args.features is None and args.video is None:
        raise UsageError("one of --features, --video or --batch is required")
    if not args.query:
        raise UsageError("--query is required (or --batch PAIRS.jsonl)")
    if args.video is None:
        if args.duration is None:
            raise UsageError("--duration is required with --features")
        features = read_features(args.features, args.video_id)  # cheap checks first
    elif not args.spec or not args.backbone:
        raise UsageError("--video needs --spec and --backbone (the features the model was trained on)")
    import tensorflow as tf

    export = _retriever(args.export)
    try:
        if args.video is not None:
            features, args.duration, result = _predict_video(export, args)
        else:
            result = export.retrieve(features, args.duration, args.query, with_score_map=bool(args.plot))
    except tf.errors.InvalidArgumentError as exc:
        # The graph's own checks: their first line says what was wrong with the request.
        raise UsageError(error_message(exc)) from None
    except ImportError as exc:  # --backbone is a hub handle whose library is not installed
        raise UsageError(str(exc)) from None
    moments, maps = result if args.plot else (result, None)
    if args.json:
        print(json.dumps([{"query": q, "moments": [
            {"start": float(s), "end": float(e), "score": float(c)} for s, e, c in m]}
            for q, m in zip(args.query, moments)], indent=2))
    else:
        print("\n\n".join(format_moments(q, m, args.gt) for q, m in zip(args.query, moments)))
    if args.plot:
        from mgpn_keras.serving.plot import plot_prediction
        from mgpn_keras.valid_cells.geometry import valid_mask

        mask = valid_mask(export.num_clips, export.info["num_scale_layers"])
        plot_prediction(args.plot, maps, moments, args.duration, args.query, mask, gt=args.gt,
                        windows=export.windows(len(features), args.duration))
        if not args.quiet:
            print(f"plot written to {args.plot}", file=sys.stderr if args.json else sys.stdout)
    return 0


def _retriever(path):
    """An export folder's retriever, or one built in memory from a preset or run folder."""
    from mgpn_keras.retrieval.retriever import MomentRetriever

    if (Path(path) / "saved_model.pb").is_file():
        return MomentRetriever.from_export(path)
    return MomentRetriever.from_run(path)


def _predict_video(retriever, args):
    """--video: (features, duration, retrieve's result) via `mgpn_keras.extract`."""
    from mgpn_keras.extract import predict_video

    out = predict_video(retriever, args.video, args.query, args.spec, args.backbone,
                        with_score_map=bool(args.plot))
    if args.duration is not None and abs(args.duration - out.duration) > 0.5:
        print(f"note: --duration {args.duration} s differs from the file's {out.duration:.2f} s; "
              f"using the file's", file=sys.stderr)
    result = (out.moments, out.score_maps) if args.plot else out.moments
    return out.features, out.duration, result


def _run_batch(args) -> int:
    """--batch: every line answered into --out; 1 when some line could not be (listed)."""
    if args.out is None:
        raise UsageError("--batch needs --out MOMENTS.jsonl")
    if args.video is not None or args.query:
        raise UsageError("--batch reads the videos and queries from its file: drop --video/--query")
    if not (Path(args.export) / "saved_model.pb").is_file():
        raise UsageError(f"--batch runs an exported SavedModel: {args.export!r} has no "
                         f"saved_model.pb (run `mgpn export` first)")
    from mgpn_keras.pipelines.predict import predict_batch

    result = predict_batch(args.export, args.batch, args.out, features=args.features,
                           runner=args.runner, workers=args.workers,
                           pipeline_args=args.pipeline_args)
    for error in result["errors"]:
        print(f"error: {error}", file=sys.stderr)
    if not args.quiet:
        print(f"wrote {args.out}: {result['answered']} pairs answered, "
              f"{len(result['errors'])} errors")
    return 1 if result["errors"] else 0
