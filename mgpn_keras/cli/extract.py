"""`mgpn extract`: a folder of video files -> clip features `mgpn prepare` reads."""

from __future__ import annotations

import argparse

from mgpn_keras.cli.arguments import HelpFormatter, add_logging_arguments, add_runner_arguments
from mgpn_keras.cli.errors import UsageError

DESCRIPTION = """\
Decode every video in --videos with PyAV, sample clips by the feature spec (frame rate,
frames per clip, stride, frame size, pixel normalisation, channel order), run your
backbone on them in batches and write one (clips, width) float32 array per video:
OUT/<video>.npy (a folder) or one OUT.hdf5 file, with each video's duration in
durations.json. An interrupted run resumes: rerun the same command and finished videos are
kept. How to reproduce each benchmark's features: docs/extract.md.

Inputs: a folder of video files or one file (--videos), your backbone (--backbone) and the
feature spec it is sampled by (--spec). Output: --out, a folder of <video>.npy files (or one
.hdf5 file) with durations.json and extract.json beside them, the layout `mgpn prepare
--features` reads.

Example:
  mgpn extract --videos videos/ --backbone i3d_savedmodel/ --spec charades_i3d \\
      --out data/Charades/I3D/raw
  mgpn extract --videos videos/ --backbone i3d_savedmodel/ --spec charades_i3d \\
      --out data/Charades/I3D/raw --workers 4
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    from mgpn_keras.extract.specs import DEFAULT_BATCH_SIZE, NAMED_SPECS

    p = subparsers.add_parser(
        "extract", help="video files + your backbone -> clip features for `mgpn prepare`",
        description=DESCRIPTION, formatter_class=HelpFormatter)
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
    p.add_argument("--strict", action="store_true",
                   help="with --runner/--workers: stop at the first video that fails; without "
                   "it a failed video is recorded with its reason and the others go on")
    add_runner_arguments(p)
    add_logging_arguments(p, quiet_aliases=("--no-progress",), quiet_help="no progress bar and no summary")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    try:
        if args.runner is not None or args.workers is not None:
            from mgpn_keras.pipelines.extract import extract_beam

            summary = extract_beam(args.videos, args.backbone, args.spec, args.out,
                                   batch_size=args.batch_size, strict=args.strict,
                                   overwrite=args.overwrite, progress=not args.quiet,
                                   backbone_output=args.backbone_output, runner=args.runner,
                                   workers=args.workers, pipeline_args=args.pipeline_args)
            return 1 if summary["failed"] else 0
        from mgpn_keras.extract.run import extract_videos

        summary = extract_videos(args.videos, args.backbone, args.spec, args.out,
                                 batch_size=args.batch_size, skip_bad=args.skip_bad,
                                 overwrite=args.overwrite, progress=not args.quiet,
                                 backbone_output=args.backbone_output)
    except ImportError as exc:  # a hub handle whose library is not installed: says which
        raise UsageError(str(exc)) from None
    return 1 if summary["failed"] else 0
