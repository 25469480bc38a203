"""Tiny data sets in each benchmark's real layout, written by the data tests."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import h5py
import numpy as np

# (sentence, start, end) per video; start >= end and an end past the duration are there on
# purpose: the readers must drop the first and clip the second.
SENTENCES = [
    ("A person opens the door.", 0.5, 3.0),
    ("Someone is holding a cup of coffee", 2.0, 7.5),
    ("the man puts the book on the shelf", 4.0, 4.0),  # empty: dropped
    ("A woman laughs, then sits down.", 1.0, 99.0),  # end clipped to the duration
]
LAYOUTS = ("charades_vgg", "charades_i3d", "tacos", "activitynet_hdf5", "activitynet_npy")
PRESET = {"charades_vgg": "charades_vgg", "charades_i3d": "charades_i3d", "tacos": "tacos",
          "activitynet_hdf5": "activitynet", "activitynet_npy": "activitynet"}
DATASET = {"charades_vgg": "charades_sta", "charades_i3d": "charades_sta", "tacos": "tacos",
           "activitynet_hdf5": "activitynet", "activitynet_npy": "activitynet"}
TACOS_FPS = 29.4


def small_config(layout: str, width: int = 12):
    """The layout's preset at a tiny size, with the embedded 50-d GloVe."""
    from mgpn_keras.config import preset

    return preset(PRESET[layout], model=dict(
        input_size=width, word_dim=50, num_sample_clips=16, pool_stride=2, num_clips=8,
        hidden_size=16, gru_layers=1, num_scale_layers=[3, 2], groups=4, kernel_size=3))


def video_ids(layout: str, split: str, count: int = 3) -> list[str]:
    if layout == "tacos":
        return [f"s{split[:2]}-d{k}.avi" for k in range(count)]
    if layout.startswith("activitynet"):
        return [f"v_{split}{k}" for k in range(count)]
    return [f"{split.upper()[:2]}{k}X" for k in range(count)]


def write_layout(root: Path, layout: str, splits=("train", "test"), width: int = 12,
                 seed: int = 0, lengths=(5, 40, 300)) -> dict:
    """Write annotations and features of `layout` under `root`.

    Returns {"features": {video: raw (clips, width) float32}, "expected": {split: [(video,
    start, end, duration, sentence)]}} where expected lists what the reader must return.
    """
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    feats, expected = {}, {}
    for split in splits:
        vids = video_ids(layout, split, len(lengths))
        durations = {v: float(10.0 + 5 * k) for k, v in enumerate(vids)}
        expected[split] = []
        for k, v in enumerate(vids):
            feats[v] = rng.standard_normal((lengths[k], width)).astype(np.float32)
            for sentence, s, e in SENTENCES:
                d = durations[v]
                if layout == "tacos":  # frame stamps: the duration is num_frames / fps
                    d = round(d * TACOS_FPS) / TACOS_FPS
                    s, e = round(s * TACOS_FPS) / TACOS_FPS, round(e * TACOS_FPS) / TACOS_FPS
                if s < min(e, d):
                    text = sentence[:-1] if layout.startswith("charades") and \
                        sentence.endswith(".") else sentence
                    expected[split].append((v, s, min(e, d), d, text))
        _write_annotations(root, layout, split, vids, durations)
    _write_features(root, layout, feats)
    return {"features": feats, "expected": expected}


def _write_annotations(root, layout, split, vids, durations):
    if layout.startswith("charades"):
        with open(root / f"Charades_v1_{split}.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["id", "subject", "scene", "length"])
            for v in vids:
                writer.writerow([v, "S", "Kitchen", f"{durations[v]:.2f}"])
        with open(root / f"charades_sta_{split}.txt", "w") as f:
            for v in vids:
                for sentence, s, e in SENTENCES:
                    f.write(f"{v} {s} {e}##{sentence}\n")
        return
    data = {}
    for v in vids:
        if layout == "tacos":
            frames = lambda t: int(round(t * TACOS_FPS))  # noqa: E731
            data[v] = {"timestamps": [[frames(s), frames(e)] for _, s, e in SENTENCES],
                       "sentences": [t for t, _, _ in SENTENCES], "fps": TACOS_FPS,
                       "num_frames": frames(durations[v])}
        else:
            data[v] = {"duration": durations[v],
                       "timestamps": [[s, e] for _, s, e in SENTENCES],
                       "sentences": [t for t, _, _ in SENTENCES]}
    (root / f"{split}.json").write_text(json.dumps(data))


def _write_features(root, layout, feats):
    if layout == "charades_vgg":
        with h5py.File(root / "charades_vgg_rgb.hdf5", "w") as f:
            for v, x in feats.items():
                f[v] = x
    elif layout == "charades_i3d":
        (root / "I3D" / "raw").mkdir(parents=True, exist_ok=True)
        for v, x in feats.items():
            np.save(root / "I3D" / "raw" / f"{v}.npy", x)
    elif layout == "tacos":  # keys without the annotation's .avi, as some copies have
        with h5py.File(root / "tall_c3d_features.hdf5", "w") as f:
            for v, x in feats.items():
                f[v[:-4]] = x
    elif layout == "activitynet_hdf5":
        with h5py.File(root / "sub_activitynet_v1-3.c3d.hdf5", "w") as f:
            for v, x in feats.items():
                f.create_group(v)["c3d_features"] = x
    else:
        (root / "c3d_features").mkdir(parents=True, exist_ok=True)
        for v, x in feats.items():
            np.save(root / "c3d_features" / f"{v}.npy", x)
