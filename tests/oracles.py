"""NumPy oracles of the protocol operations: the implementations the package used before each
concept moved into `mgpn_keras.protocol` (TensorFlow), and, at the end, the package's ops with
NumPy in and out as the tests call them. Tests compare the two; nothing in the package imports
this module."""

from __future__ import annotations

import numpy as np


# ----------------------------------------------------------------------------- video features
def l2_normalize(features: np.ndarray) -> np.ndarray:
    """Per-clip L2 normalisation, as torch.nn.functional.normalize(x, dim=1) (eps 1e-12)."""
    norm = np.sqrt(np.sum(np.square(features, dtype=np.float32), axis=1, keepdims=True))
    return (features / np.maximum(norm, np.float32(1e-12))).astype(np.float32)


def sample_indices(num_clips: int, num_sample_clips: int) -> np.ndarray:
    """Boundaries of `average_to_fixed_length` (REFERENCE.md 5.8): num_sample_clips + 1 ints."""
    idxs = np.arange(num_sample_clips + 1, dtype=np.float32) / np.float32(num_sample_clips)
    idxs = np.round(idxs * np.float32(num_clips)).astype(np.int64)
    return np.minimum(idxs, num_clips - 1)


def average_to_fixed_length(features: np.ndarray, num_sample_clips: int) -> np.ndarray:
    """The reference's resampling to `num_sample_clips` clips (REFERENCE.md 5.8)."""
    idxs = sample_indices(features.shape[0], num_sample_clips)
    out = np.empty((num_sample_clips, features.shape[1]), np.float32)
    for k in range(num_sample_clips):
        s, e = idxs[k], idxs[k + 1]
        out[k] = features[s:e].mean(axis=0) if s < e else features[s]
    return out


def model_clips(raw: np.ndarray, num_sample_clips: int, normalize: bool) -> np.ndarray:
    """A video as the model sees it, in NumPy: per-clip L2 normalisation (when `normalize`),
    then the reference's averaging to `num_sample_clips`: (S, width) float32."""
    features = np.asarray(raw, np.float32)
    if normalize:
        features = l2_normalize(features)
    return average_to_fixed_length(features, num_sample_clips)


# ----------------------------------------------------------------------------- intervals
def iou(a, b) -> np.ndarray:
    """IoU of intervals (inter / hull), broadcasting; NaN for 0 / 0 (the reference's)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    inter = np.maximum(0.0, np.minimum(a[..., 1], b[..., 1]) - np.maximum(a[..., 0], b[..., 0]))
    union = np.maximum(0.0, np.maximum(a[..., 1], b[..., 1]) - np.minimum(a[..., 0], b[..., 0]))
    with np.errstate(invalid="ignore", divide="ignore"):
        return inter / union


def iou_map(times, duration, num_clips: int) -> np.ndarray:
    """The reference's `map_gt`: (N, N) float32 for one query, (B, N, N) for a batch."""
    gt = np.asarray(times, np.float64)
    dur = np.asarray(duration, np.float64)
    dur32 = np.broadcast_to(dur.astype(np.float32), gt.shape[:-1])[..., None]  # (..., 1)
    n32 = np.float32(num_clips)
    starts = np.arange(num_clips, dtype=np.float32) * dur32 / n32  # (..., N), float32 as torch
    ends = np.arange(1, num_clips + 1, dtype=np.float32) * dur32 / n32
    cells = np.stack(np.broadcast_arrays(starts[..., :, None], ends[..., None, :]), axis=-1)
    gt32 = gt.astype(np.float32).astype(np.float64)[..., None, None, :]  # (..., 1, 1, 2)
    overlap = iou(cells.astype(np.float64), gt32)  # (..., N, N)
    upper = np.triu(np.ones((num_clips, num_clips), bool))
    return np.where(upper, overlap, 0.0).astype(np.float32)


# ----------------------------------------------------------------------------- proposals, NMS
def sorted_proposals(joint_prob, durations, num_clips: int, kind=None):
    """(B, K, 2) float64 times and (B, K) scores, best first, `np.argsort(flat, kind)[::-1]`."""
    prob = np.asarray(joint_prob)
    batch = prob.shape[0]
    durations = np.broadcast_to(np.asarray(durations, np.float64), (batch,))
    flat = prob.reshape(batch, num_clips * num_clips)
    order = np.argsort(flat, axis=-1, kind=kind)[:, ::-1]
    start, end = np.divmod(order, num_clips)
    upper = start <= end
    k = num_clips * (num_clips + 1) // 2
    start = start[upper].reshape(batch, k)
    end = end[upper].reshape(batch, k) + 1
    order = order[upper].reshape(batch, k)
    idx = np.stack([start, end], axis=-1).astype(np.float32)
    times = idx / np.float32(num_clips) * durations.astype(np.float32)[:, None, None]
    return times.astype(np.float64), np.take_along_axis(flat, order, axis=-1)


def nms_indices(times, threshold: float, top_k: int) -> np.ndarray:
    """Greedy NMS (the reference's `core.eval.nms`), batched: (B, top_k) int64, -1 padded."""
    times = np.asarray(times, np.float64)
    batch, count = times.shape[:2]
    x1, x2 = times[..., 0], times[..., 1]
    lengths = x2 - x1
    alive = np.ones((batch, count), bool)
    keep = np.full((batch, top_k), -1, np.int64)
    rows = np.arange(batch)
    with np.errstate(invalid="ignore", divide="ignore"):
        for step in range(min(top_k, count)):
            has = alive.any(axis=1)
            if not has.any():
                break
            first = np.argmax(alive, axis=1)
            keep[has, step] = first[has]
            alive[rows, first] = False
            inter = np.maximum(0.0, np.minimum(x2[rows, first][:, None], x2)
                               - np.maximum(x1[rows, first][:, None], x1))
            overlap = inter / (lengths[rows, first][:, None] + lengths - inter)
            alive &= overlap <= threshold
    return keep


def top_moments(joint_prob, durations, num_clips, nms_threshold, top_k, kind=None):
    """B float64 arrays (k_b, 3) [start, end, score] of the NMS-kept best moments."""
    times, scores = sorted_proposals(joint_prob, durations, num_clips, kind)
    keep = nms_indices(times, nms_threshold, top_k)
    return [np.concatenate([t[k[k >= 0]], s[k[k >= 0], None].astype(np.float64)], axis=-1)
            for t, s, k in zip(times, scores, keep)]


# ----------------------------------------------------------------------------- words
def word_ids(vocabulary, tokens) -> list[int]:
    """"" -> 0, vocabulary[k] -> k for k >= 2, any other word -> 1."""
    index = {w: i for i, w in enumerate(vocabulary[2:], 2)}
    return [index.get(t, 1) if t else 0 for t in tokens]


# ----------------------------------------------------------------------------- package ops on NumPy
# The package's protocol operations with NumPy in and out, as the tests call them (the package
# itself works on batches: `evaluation.metrics.nms_indices`, `protocol.interval_iou`).
def protocol_iou(a, b) -> np.ndarray:
    """`mgpn_keras.protocol.interval_iou` of (..., 2) intervals as a float64 array."""
    from mgpn_keras.protocol.interval_iou import interval_iou

    return interval_iou(np.asarray(a, np.float64), np.asarray(b, np.float64)).numpy()


def nms(times, threshold: float, top_k: int | None) -> np.ndarray:
    """The package's greedy NMS of one query's (K, 2) proposals, best first: (k, 2) kept times."""
    from mgpn_keras.evaluation.metrics import nms_indices

    times = np.asarray(times, np.float64)
    if times.ndim != 2 or times.shape[-1] != 2:
        raise ValueError(f"times have shape {times.shape}, expected (proposals, 2)")
    keep = nms_indices(times[None], threshold, top_k)[0]
    return times[keep[keep >= 0]]


def batched_nms(times, threshold: float, top_k: int | None) -> list[np.ndarray]:
    """`nms` for each query of a (B, K, 2) batch; returns B arrays of shape (k_b, 2)."""
    from mgpn_keras.evaluation.metrics import nms_indices

    times = np.asarray(times, np.float64)
    keep = nms_indices(times, threshold, top_k)
    return [t[k[k >= 0]] for t, k in zip(times, keep)]
