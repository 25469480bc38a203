"""`mgpn predict`: query an exported SavedModel with a video's features and sentences.

    mgpn predict --export export/mgpn/1 --features video.npy --duration 30.5 \
        --query "person opens the door" [--plot out.png] [--gt 3.1 9.8]
    mgpn predict --export export/mgpn/1 --features charades_vgg_rgb.hdf5 --video-id 3MSZA \
        --duration 30.5 --query "person opens the door"
    mgpn predict --export export/mgpn/1 --video 3MSZA.mp4 --spec charades_i3d \
        --backbone i3d_savedmodel/ --query "person opens the door"

The export is loaded and queried by `mgpn_keras.retrieval.loaded_export` (`load_export`,
`predict`), with `tf.saved_model.load` and its signatures, as a server would:
the features are the raw (clips, width) array of the video; tokenisation, word vectors,
normalisation and averaging happen in the exported graph, and so does windowing: a video
longer than the export's `window_seconds` is retrieved by overlapping windows (the plot then
shows the windows and the merged moments).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def error_message(exc: Exception) -> str:
    """The first line of a graph check's failure ('video_features has width ...'), or the
    exception's first line."""
    text = getattr(exc, "message", None) or str(exc)
    for line in text.splitlines():
        if "assertion failed:" in line:
            line = line.split("assertion failed:", 1)[1].strip()
            return line[1:-1] if line.startswith("[") and line.endswith("]") else line
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def read_features(path: str | os.PathLike, video_id: str | None = None) -> np.ndarray:
    """A video's raw features: a .npy file, or a video of an .hdf5 file or .npy folder."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"features {str(path)!r} do not exist")
    from mgpn_keras.datasets import features as feats

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


def format_moments(query: str, moments: np.ndarray, gt=None) -> str:
    """A text table of one query's moments (with IoU against `gt` when given: the protocol's
    `interval_iou`, so a zero-length moment on a zero-length `gt` shows nan)."""
    # Imported here: it starts TensorFlow, and `mgpn predict` checks its arguments and files
    # before that (a mistyped path fails at once).
    from mgpn_keras.protocol.interval_iou import interval_iou

    lines = [f"query: {query}"]
    if gt is not None:
        lines.append(f"  ground truth: {gt[0]:.2f} s - {gt[1]:.2f} s")
    header = "  rank   start (s)   end (s)   score" + ("    IoU" if gt is not None else "")
    lines.append(header)
    for rank, (start, end, score) in enumerate(moments, 1):
        row = f"  {rank:4d}  {start:10.2f}  {end:8.2f}  {score:6.4f}"
        if gt is not None:
            row += f"  {float(interval_iou([start, end], [gt[0], gt[1]])):5.3f}"
        lines.append(row)
    if len(moments) == 0:
        lines.append("  (no moment)")
    return "\n".join(lines)
