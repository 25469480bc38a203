"""`mgpn extract`: a folder of video files -> clip features `mgpn prepare` reads."""

from __future__ import annotations

import argparse

from mgpn_keras.extract.features import DEFAULT_BATCH_SIZE
from mgpn_keras.extract.specs import NAMED_SPECS


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register `mgpn extract`."""
    p = subparsers.add_parser(
        "extract", help="video files + your backbone -> clip features for `mgpn prepare`",
        description="Decode every video in --videos with PyAV, sample clips by the feature "
        "spec (frame rate, frames per clip, stride, frame size, pixel normalisation, channel "
        "order), run your backbone on them in batches and write one (clips, width) float32 "
        "array per video: OUT/<video>.npy (a folder) or one OUT.hdf5 file, with each video's "
        "duration in durations.json. An interrupted run resumes: rerun the same command and "
        "finished videos are kept. How to reproduce each benchmark's features: docs/extract.md.")
    p.add_argument("--videos", required=True,
                   help="folder of video files (.mp4, .avi, .mkv, .webm, .mov, ...; not "
                   "recursive), or one video file; a video's id is its file name without the "
                   "extension")
    p.add_argument("--backbone", required=True,
                   help="the model mapping (batch, frames_per_clip, height, width, 3) float32 "
                   "clips to (batch, width) features (a per-frame model may take (batch, "
                   "height, width, 3)): a SavedModel folder (its serving_default signature), a "
                   ".keras file, kaggle:OWNER/MODEL/FRAMEWORK/VARIATION (needs kagglehub) or "
                   "tfhub:URL (needs tensorflow-hub)")
    p.add_argument("--spec", required=True, metavar="NAME_OR_FILE",
                   help=f"feature spec: one of {', '.join(NAMED_SPECS)}, or a .json/.yaml file "
                   f"with the same keys (see docs/extract.md)")
    p.add_argument("--out", required=True,
                   help="output folder for <video>.npy files, or a path ending in .hdf5/.h5 "
                   "for one HDF5 file keyed by video")
    p.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE,
                   help=f"clips per backbone call (default {DEFAULT_BATCH_SIZE})")
    p.add_argument("--backbone-output", default=None,
                   help="which output of a SavedModel signature with several to use")
    p.add_argument("--skip-bad", action="store_true",
                   help="record unusable videos (unreadable, empty, zero duration) in "
                   "extract.json and go on, instead of stopping at the first")
    p.add_argument("--overwrite", action="store_true",
                   help="extract every video again, also into an --out written with another "
                   "spec or backbone")
    p.add_argument("--no-progress", action="store_true", help="no progress bar and no summary")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """The `mgpn extract` command."""
    from mgpn_keras.datasets.errors import DataError
    from mgpn_keras.extract.run import extract_videos

    try:
        summary = extract_videos(args.videos, args.backbone, args.spec, args.out,
                                 batch_size=args.batch_size, skip_bad=args.skip_bad,
                                 overwrite=args.overwrite, progress=not args.no_progress,
                                 backbone_output=args.backbone_output)
    except (DataError, FileNotFoundError, ValueError, ImportError) as exc:
        raise SystemExit(f"mgpn extract: {exc}") from None
    return 1 if summary["failed"] else 0
