"""Shard size and `make_dataset` speed of this tree against other git revisions, e.g. format 2
(source features and their stored clip norms, averaged in the tf.data map) against format 1
(features averaged to num_sample_clips at prepare time).

    python benchmarks/shard_storage.py [--baseline-rev REV ...] [--rounds 3]

For the Charades-STA I3D `.npy` folder, TACoS HDF5 and ActivityNet HDF5 layouts
(`tests/data_layouts.py`, real file layouts, clip counts of the real data sets: Charades I3D
about 2 clips/s of 30 s videos, TACoS several hundred C3D clips, ActivityNet a few hundred), it
prepares the same data with this tree and with the code at each --baseline-rev (extracted with
`git archive`, run in a subprocess), prints the source's and the shards' bytes, checks that the
batches of `make_dataset` are bit-equal to the first revision's, and times full passes of the
test split (evaluation order, and the training pipeline) for all, interleaved round by round in
the same run. Each
worker imports TensorFlow before its clock starts. The numbers are queries/s of the pipeline
alone, on this machine as loaded as it is (the load average is printed).

data_layouts gives each video 3 queries; the real sets have 2.4 (Charades-STA), ~3.7
(ActivityNet) and ~130 (TACoS) per video, and the per-video work (decode, normalise, average)
is shared by a video's queries, so TACoS videos get 120 here. Each read builds the pipeline,
runs one untimed pass (tracing), then times whole passes of at least 1000 queries.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from harness.worker import Worker, serve  # benchmarks/harness: this tree's, also in the workers

REPO = Path(__file__).resolve().parents[1]
# layout -> (clip counts of its test videos, the preset's width)
LAYOUTS = {
    "charades_i3d": ([48, 55, 61, 64, 70, 77, 52, 66, 59, 73] * 6, 1024),
    "tacos": ([420, 610, 880, 530, 740, 960, 380, 700, 820, 460, 560, 650], 4096),
    "activitynet_hdf5": ([120, 260, 340, 180, 410, 90, 300, 220, 150, 380] * 4, 500),
}
BATCH = 32
MIN_TIMED_QUERIES = 1000
# Queries per video as in the real test splits (data_layouts writes 3; TACoS has ~130).
REPEAT_QUERIES = {"tacos": 40}


def _repeat_queries(data: Path, layout: str) -> None:
    """Give each video of a JSON layout `REPEAT_QUERIES[layout]` times its queries."""
    times = REPEAT_QUERIES.get(layout, 1)
    if times == 1:
        return
    path = data / "test.json"
    content = json.loads(path.read_text())
    for video in content.values():
        video["timestamps"] = video["timestamps"] * times
        video["sentences"] = video["sentences"] * times
    path.write_text(json.dumps(content))


def _source_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()
               and (p.suffix in (".npy", ".hdf5", ".h5")))


def _serve() -> int:
    """A worker process (`harness.worker` protocol) with whichever mgpn_keras is on its path;
    TensorFlow is imported once, before any clock."""
    sys.path.insert(0, str(REPO / "tests"))
    import tensorflow as tf  # noqa: F401

    return serve(lambda request: _work(argparse.Namespace(**request)))


def _work(args) -> dict:
    """Prepare, or read the test split."""
    import numpy as np

    from mgpn_keras.datasets import make_dataset
    from mgpn_keras.datasets.prepare import prepare

    out = Path(args.out)
    if args.worker == "prepare":
        from data_layouts import small_config

        width = LAYOUTS[args.layout][1]
        cfg = small_config(args.layout, width)
        from mgpn_keras.config import preset

        cfg = preset(cfg.name, model=dict(input_size=width, word_dim=50))
        prepare(cfg, args.data, out, splits=["test"], progress=False)
        return {"shard_bytes": sum(p.stat().st_size for p in out.glob("*.tfrecord"))}
    training = args.worker == "read_train"
    dataset = make_dataset(out, "test", BATCH, training, shuffle_seed=0)
    saved = {}
    for k, (features, iou_map) in enumerate(dataset):  # untimed: traces the functions
        if args.save:
            saved[f"clips{k}"] = features["clip_features"].numpy()
            saved[f"words{k}"] = features["word_vectors"].numpy()
            saved[f"iou{k}"] = iou_map.numpy()
    if args.save:
        np.savez(args.save, **saved)
        return {}
    count = 0
    start = time.perf_counter()
    while count < MIN_TIMED_QUERIES:  # whole passes, at least this many queries
        for _, iou_map in dataset:
            count += int(iou_map.shape[0])
    return {"queries": count, "seconds": time.perf_counter() - start}


class TreeWorker(Worker):
    """A `_serve` process on one code tree."""

    def __init__(self, tree: Path):
        env = dict(os.environ, PYTHONPATH=str(tree), TF_CPP_MIN_LOG_LEVEL="3",
                   CUDA_VISIBLE_DEVICES="")
        super().__init__([sys.executable, __file__, "--serve"], env=env, cwd=tree)

    def __call__(self, worker: str, out: Path, **kwargs) -> dict:
        return super().__call__({"worker": worker, "out": str(out), "layout": None, "data": None,
                                 "save": None, **kwargs})


def _tree_at(rev: str, tmp: Path) -> Path:
    """The mgpn_keras (and tests/data_layouts.py) of git revision `rev`, extracted under tmp."""
    tree = tmp / f"rev-{rev}"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "mgpn_keras",
                              "tests/data_layouts.py"], capture_output=True, check=True).stdout
    archive_path = tmp / f"rev-{rev}.tar"
    archive_path.write_bytes(archive)
    with tarfile.open(archive_path) as tar:
        tar.extractall(tree, filter="data")
    return tree


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline-rev", action="append", metavar="REV",
                        help="git revision to compare with this tree; repeat for several, the "
                        "first is the reference of the bit-equality check (default: 2e7f17b, "
                        "the last commit of format 1)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return _serve()
    revs = args.baseline_rev or ["2e7f17b"]

    sys.path.insert(0, str(REPO / "tests"))
    import numpy as np
    from data_layouts import write_layout

    tmp = Path(tempfile.mkdtemp(prefix="mgpn-shard-bench-"))
    trees = {rev: TreeWorker(_tree_at(rev, tmp)) for rev in revs}
    trees["this tree"] = TreeWorker(REPO)
    names = list(trees)
    print(f"load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
    results = {}
    for layout, (lengths, width) in LAYOUTS.items():
        data = tmp / layout / "data"
        write_layout(data, layout, splits=("test",), width=width, lengths=tuple(lengths))
        _repeat_queries(data, layout)
        row = {"queries_per_video": 3 * REPEAT_QUERIES.get(layout, 1),
               "source_bytes": _source_bytes(data), "videos": len(lengths),
               "mean_clips": statistics.mean(lengths), "width": width, "trees": {}}
        for k, (name, tree) in enumerate(trees.items()):
            out = tmp / layout / f"tree{k}"
            row["trees"][name] = tree("prepare", out, layout=layout, data=str(data))
            tree("read_eval", out, save=str(tmp / layout / f"tree{k}.npz"))
        with np.load(tmp / layout / "tree0.npz") as a:
            for k, name in enumerate(names):
                with np.load(tmp / layout / f"tree{k}.npz") as b:
                    row["trees"][name]["bit_equal"] = sorted(a.files) == sorted(b.files) and all(
                        np.array_equal(a[f], b[f]) for f in a.files)
        for mode in ("read_eval", "read_train"):
            for name in names:
                row["trees"][name][mode] = []
            for _ in range(args.rounds):
                for k, (name, tree) in enumerate(trees.items()):
                    r = tree(mode, tmp / layout / f"tree{k}")
                    row["trees"][name][mode].append(r["queries"] / r["seconds"])
        results[layout] = row
    for worker in trees.values():
        worker.close()

    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    print(f"queries/s: median of {args.rounds} interleaved rounds; bit-equal: batches equal to "
          f"{names[0]}'s")
    print(f"{'layout':18s} {'tree':12s} {'videos':>6s} {'clips':>6s} {'source MB':>10s} "
          f"{'shards MB':>10s} {'shards/src':>10s} {'bit-equal':>9s} {'eval q/s':>9s} "
          f"{'train q/s':>9s}")
    for layout, row in results.items():
        src = row["source_bytes"]
        for name, r in row["trees"].items():
            print(f"{layout:18s} {name:12s} {row['videos']:6d} {row['mean_clips']:6.0f} "
                  f"{src / 1e6:10.1f} {r['shard_bytes'] / 1e6:10.1f} "
                  f"{r['shard_bytes'] / src:10.3f} {str(r['bit_equal']):>9s} "
                  f"{statistics.median(r['read_eval']):9.0f} "
                  f"{statistics.median(r['read_train']):9.0f}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
