"""`mgpn evaluate --window`: evaluation of a split of (long) videos by windowed retrieval.

The shards `mgpn prepare` writes hold the data the training pipeline reads, for the videos of
the prepared splits only; a window's clips are averaged from the raw features of that window
alone, in the serving graph, as `mgpn predict` does. So this evaluation reads the split's
annotations and raw features (the data folder and feature path the manifest recorded, or
others: a long-video split is an annotation file beside the others, e.g. `long.json` for
`--split long`, which no shard holds), retrieves every video's sentences with a
`MomentRetriever` (windows in the serving graph, `mgpn_keras.retrieval.windowing`) and scores
the merged moments with the reference protocol (`metrics.evaluate_moment_lists`).
"""

from __future__ import annotations

import os
from collections import OrderedDict

import numpy as np


def group_by_video(records) -> "OrderedDict[str, dict]":
    """video_id -> {"duration", "sentences", "gt" (Q, 2), "indices"} in file order."""
    videos: OrderedDict[str, dict] = OrderedDict()
    for index, r in enumerate(records):
        v = videos.setdefault(r.video_id, {"duration": r.duration, "sentences": [], "gt": [],
                                           "indices": []})
        v["sentences"].append(r.sentence)
        v["gt"].append((r.start, r.end))
        v["indices"].append(index)
    return videos


def evaluate_videos(retriever, videos, features_of, cfg, *, progress: bool = False):
    """Metrics and per-query predictions of `retriever` on grouped videos.

    Args:
        retriever: a `MomentRetriever`.
        videos: `group_by_video(...)` (or the same mapping built otherwise).
        features_of: video_id -> raw (clips, width) features.
        cfg: the Config (its eval.recall and eval.iou_thresholds).

    Returns:
        (results, predictions): {"R1@0.5": ..., "mIoU": ...} fractions, and a list of
        {"index", "video_id", "sentence", "gt", "moments"} per query.
    """
    import keras

    from mgpn_keras.evaluation.metrics import evaluate_moment_lists

    all_moments, all_gt, predictions = [], [], []
    bar = keras.utils.Progbar(len(videos), unit_name="video") if progress else None
    for step, (video_id, v) in enumerate(videos.items()):
        found = retriever.retrieve(features_of(video_id), v["duration"], v["sentences"])
        for q, moments in enumerate(found):
            all_moments.append(moments)
            all_gt.append(v["gt"][q])
            predictions.append({"index": int(v["indices"][q]), "video_id": video_id,
                                "sentence": v["sentences"][q],
                                "gt": [float(t) for t in v["gt"][q]],
                                "moments": [[float(x) for x in row] for row in moments]})
        if bar is not None:
            bar.update(step + 1)
    results = evaluate_moment_lists(all_moments, np.asarray(all_gt, np.float64),
                                    cfg.eval.recall, cfg.eval.iou_thresholds)
    return results, predictions


def evaluate_run_windowed(run_dir: str, split: str = "test", weights: str = "best", *,
                          window_seconds: float | None = None,
                          window_overlap_seconds: float | None = None,
                          data_dir: str | None = None, features: str | None = None,
                          verbose: bool = True, predictions_out: str | None = None) -> dict:
    """Windowed evaluation of a run on `split`, merged into its results.json as
    `"{split}@window"`.

    Args:
        run_dir: the training run folder.
        split: an annotation split in the data folder (`{split}.json`, or Charades-STA's pair).
        weights: "best", "latest" or a .weights.h5 path.
        window_seconds, window_overlap_seconds: the window (default: `default_window`, the
            training moments' p99 length, twice).
        data_dir, features: the annotations' folder and the raw features (default: those the
            manifest recorded).
        predictions_out: also write every query's moments to this JSON file.
    """
    from mgpn_keras.atomic import write_json
    from mgpn_keras.datasets import features as feats
    from mgpn_keras.datasets.annotations import read_annotations
    from mgpn_keras.evaluation.model_evaluation import ordered
    from mgpn_keras.retrieval.retriever import MomentRetriever
    from mgpn_keras.retrieval.windowing import check_window, default_window
    from mgpn_keras.runs.files import CONFIG_FILE
    from mgpn_keras.runs.paths import RunPaths
    from mgpn_keras.runs.resolve import resolve_model
    from mgpn_keras.runs.results import merge_results

    paths = RunPaths(run_dir)
    if not os.path.exists(paths.config):
        raise FileNotFoundError(f"{run_dir!r} is not a training run: no {CONFIG_FILE}")
    weight_file = {"best": paths.best_weights, "latest": paths.latest_weights}.get(weights, weights)
    if not os.path.exists(weight_file):
        raise FileNotFoundError(f"no weights at {weight_file!r}")
    resolved = resolve_model(run_dir, weights=weight_file, precision="float32")
    model, cfg, manifest = resolved.model, resolved.config, resolved.data
    if window_seconds is None:
        window_seconds, default_overlap = default_window(cfg, manifest)
        if window_seconds is None:
            raise ValueError(f"no window for run {run_dir!r}: its manifest records no training "
                             f"durations (prepared before they were); pass --window SECONDS")
        if window_overlap_seconds is None:
            window_overlap_seconds = default_overlap
    check_window(window_seconds, window_overlap_seconds)
    data_dir = data_dir or manifest.info.get("data_dir")
    features = features or manifest.info.get("features")
    if not data_dir or not features:
        raise ValueError(f"manifest {manifest.path} records no data folder or feature path; "
                         f"pass --data-dir and --features")
    records = read_annotations(cfg.data.dataset, data_dir, split)
    if not records:
        raise ValueError(f"split {split!r} in {data_dir} has no annotated moments")
    retriever = MomentRetriever.from_model(model, cfg, manifest.vocabulary, manifest.vectors,
                                           window_seconds=window_seconds,
                                           window_overlap_seconds=window_overlap_seconds)
    with feats.open_feature_store(features) as store:
        def features_of(video_id):
            return feats.check_features(np.asarray(store.get(video_id)), cfg.model.input_size,
                                        video_id, features, cfg.name)

        results, predictions = evaluate_videos(retriever, group_by_video(records), features_of,
                                               cfg, progress=verbose)
    results = ordered(results, cfg)
    merge_results(paths.results, {f"{split}@window": results})
    if predictions_out:
        write_json(predictions_out, predictions)
    return results
