"""`mgpn predict`: query an exported SavedModel with a video's features and sentences.

    mgpn predict --export export/mgpn/1 --features video.npy --duration 30.5 \
        --query "person opens the door" [--plot out.png] [--gt 3.1 9.8]
    mgpn predict --export export/mgpn/1 --features charades_vgg_rgb.hdf5 --video-id 3MSZA \
        --duration 30.5 --query "person opens the door"
    mgpn predict --export export/mgpn/1 --video 3MSZA.mp4 --spec charades_i3d \
        --backbone i3d_savedmodel/ --query "person opens the door"

It loads the export with `tf.saved_model.load` and calls its signatures, as a server would:
the features are the raw (clips, width) array of the video; tokenisation, word vectors,
normalisation and averaging happen in the exported graph, and so does windowing: a video
longer than the export's `window_seconds` is retrieved by overlapping windows (the plot then
shows the windows and the merged moments).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

import numpy as np

from mgpn_keras.serving.export import EXPORT_INFO_NAME


@dataclasses.dataclass
class LoadedExport:
    """A reloaded export: its two signatures and what `mgpn_export.json` records."""

    path: Path
    serve: object  # the serving_default concrete function
    score_map: object  # the score_map concrete function
    info: dict

    @property
    def num_clips(self) -> int:
        return int(self.info["num_clips"])


def load_export(path: str | os.PathLike) -> LoadedExport:
    """Load an export folder (the version folder holding saved_model.pb)."""
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the tokeniser's ops)

    path = Path(path)
    if not (path / "saved_model.pb").is_file():
        raise FileNotFoundError(f"export {str(path)!r} has no saved_model.pb; expected a "
                                f"version folder written by `mgpn export`, e.g. export/mgpn/1")
    loaded = tf.saved_model.load(str(path))
    info_file = path / EXPORT_INFO_NAME
    if info_file.is_file():
        info = json.loads(info_file.read_text(encoding="utf-8"))
    else:  # the same facts, as saved in the graph
        info = json.loads(loaded.metadata_json.numpy().decode("utf-8"))
    return LoadedExport(path, loaded.signatures["serving_default"],
                        loaded.signatures["score_map"], info)


def error_message(exc: Exception) -> str:
    """The first line of a graph check's failure ('video_features has width ...'), or the
    exception's first line."""
    text = getattr(exc, "message", None) or str(exc)
    for line in text.splitlines():
        if "assertion failed:" in line:
            line = line.split("assertion failed:", 1)[1].strip()
            return line[1:-1] if line.startswith("[") and line.endswith("]") else line
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def predict(export: LoadedExport, queries: list[str], features: np.ndarray, duration: float,
            *, with_score_map: bool = False):
    """Top moments of each query in one video.

    Args:
        export: `load_export(...)`.
        queries: sentences.
        features: the video's raw (clips, width) features.
        duration: the video's length in seconds.
        with_score_map: also return the (len(queries), N, N) joint probabilities.

    Returns:
        A list with one float64 array (k_q, 3) per query, [start_s, end_s, score] best
        first (padding rows of queries with fewer than top-k moments left out); with
        `with_score_map`, the pair (that list, score maps).

    Raises:
        tf.errors.InvalidArgumentError: the graph rejected the request (its message says why).
    """
    import tensorflow as tf

    features = np.asarray(features, np.float32)
    if features.ndim != 2:
        raise ValueError(f"features have shape {features.shape}, expected (clips, width)")
    count = len(queries)
    inputs = {
        "query": tf.constant(list(queries), tf.string),
        "video_features": tf.constant(np.broadcast_to(features, (count, *features.shape))),
        "duration": tf.constant(np.full((count,), duration, np.float32)),
    }
    out = {k: v.numpy() for k, v in export.serve(**inputs).items()}
    moments = []
    for q in range(count):
        rows = np.stack([out["start"][q], out["end"][q], out["score"][q]], axis=-1)
        moments.append(rows[rows[:, 2] >= 0].astype(np.float64))
    if not with_score_map:
        return moments
    return moments, export.score_map(**inputs)["score_map"].numpy()


def read_features(path: str | os.PathLike, video_id: str | None = None) -> np.ndarray:
    """A video's raw features: a .npy file, or a video of an .hdf5 file or .npy folder."""
    from mgpn_keras.datasets import features as feats

    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".npy":
        array = feats.read_npy(path)
    else:
        if video_id is None:
            raise ValueError(f"--features {str(path)!r} holds many videos: pass --video-id")
        with feats.open_feature_store(path) as store:
            array = store.get(video_id)
    array = np.asarray(array)
    if array.ndim != 2:
        raise ValueError(f"features of {str(path)!r} have shape {array.shape}, expected "
                         f"(clips, width)")
    return array.astype(np.float32)


def temporal_iou(moment, gt) -> float:
    """IoU of one [start, end] moment with the ground truth (`protocol.interval_iou`); 0 where
    both are the same empty interval."""
    from mgpn_keras.protocol.interval_iou import interval_iou

    value = float(interval_iou([moment[0], moment[1]], [gt[0], gt[1]]))
    return 0.0 if value != value else value  # NaN (0 / 0) -> 0


def format_moments(query: str, moments: np.ndarray, gt=None) -> str:
    """A text table of one query's moments (with IoU against `gt` when given)."""
    lines = [f"query: {query}"]
    if gt is not None:
        lines.append(f"  ground truth: {gt[0]:.2f} s - {gt[1]:.2f} s")
    header = "  rank   start (s)   end (s)   score" + ("    IoU" if gt is not None else "")
    lines.append(header)
    for rank, (start, end, score) in enumerate(moments, 1):
        row = f"  {rank:4d}  {start:10.2f}  {end:8.2f}  {score:6.4f}"
        if gt is not None:
            row += f"  {temporal_iou((start, end), gt):5.3f}"
        lines.append(row)
    if len(moments) == 0:
        lines.append("  (no moment)")
    return "\n".join(lines)


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "predict", help="query an exported SavedModel: top-k moments of sentences in a video",
        description="Load a SavedModel written by `mgpn export` and print the top-k moments "
        "(seconds) of each --query in the video whose raw clip features are given.")
    parser.add_argument("--export", "--model", dest="export", required=True, metavar="DIR",
                        help="the version folder, e.g. export/mgpn/1, or a model preset folder "
                             "or training run folder (its serving graph is built in memory)")
    source = parser.add_mutually_exclusive_group(required=True)
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
    parser.add_argument("--query", action="append", required=True,
                        help="a sentence (repeat for several)")
    parser.add_argument("--gt", type=float, nargs=2, metavar=("START", "END"),
                        help="ground-truth moment in seconds: shown with IoU and on the plot")
    parser.add_argument("--plot", help="write a PNG of the score map and a timeline")
    parser.add_argument("--json", action="store_true", help="print the moments as JSON")
    parser.set_defaults(func=_main)
    return parser


def _main(args) -> int:
    import tensorflow as tf

    from mgpn_keras.datasets.errors import DataError

    try:
        if args.video is not None:
            export, features, args.duration, result = _predict_video(args)
        else:
            if args.duration is None:
                raise ValueError("--duration is required with --features")
            features = read_features(args.features, args.video_id)  # cheap checks first
            export = _retriever(args.export)
            result = export.retrieve(features, args.duration, args.query,
                                     with_score_map=bool(args.plot))
    except tf.errors.InvalidArgumentError as exc:
        raise SystemExit(f"mgpn predict: {error_message(exc)}") from None
    except (ValueError, FileNotFoundError, DataError, ImportError) as exc:
        raise SystemExit(f"mgpn predict: {exc}") from None
    moments, maps = result if args.plot else (result, None)
    if args.json:
        print(json.dumps([{"query": q, "moments": [
            {"start": float(s), "end": float(e), "score": float(c)} for s, e, c in m]}
            for q, m in zip(args.query, moments)], indent=2))
    else:
        print("\n\n".join(format_moments(q, m, args.gt) for q, m in zip(args.query, moments)))
    if args.plot:
        from mgpn_keras.geometry import valid_mask
        from mgpn_keras.serving.plot import plot_prediction

        mask = valid_mask(export.num_clips, export.info["num_scale_layers"])
        plot_prediction(args.plot, maps, moments, args.duration, args.query, mask, gt=args.gt,
                        windows=export.windows(len(features), args.duration))
        print(f"plot written to {args.plot}", file=sys.stderr if args.json else sys.stdout)
    return 0


def _predict_video(args):
    """--video: (retriever, features, duration, retrieve's result) via `mgpn_keras.extract`."""
    from mgpn_keras.extract import predict_video

    if not args.spec or not args.backbone:
        raise ValueError("--video needs --spec and --backbone (the features the model was "
                         "trained on)")
    retriever = _retriever(args.export)
    out = predict_video(retriever, args.video, args.query, args.spec, args.backbone,
                        with_score_map=bool(args.plot))
    if args.duration is not None and abs(args.duration - out.duration) > 0.5:
        print(f"note: --duration {args.duration} s differs from the file's {out.duration:.2f} s; "
              f"using the file's", file=sys.stderr)
    result = (out.moments, out.score_maps) if args.plot else out.moments
    return retriever, out.features, out.duration, result


def _retriever(path):
    """An export folder's retriever, or one built in memory from a preset or run folder."""
    from mgpn_keras.serving.retriever import MomentRetriever

    if (Path(path) / "saved_model.pb").is_file():
        return MomentRetriever.from_export(path)
    return MomentRetriever.from_run(path)
