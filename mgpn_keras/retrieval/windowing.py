"""Windowed retrieval for videos longer than the model's window, in TensorFlow.

MGPN averages a whole video to `num_sample_clips` clips and scores an N x N map, so a cell
spans duration / N seconds: on a video much longer than the training videos a cell spans
minutes. For such a video:

1. Windows: `window_layout` cuts the video's T raw clips into windows of n clips
   (n = round(window_seconds / clip seconds)), starting every s clips
   (s = round(stride_seconds / clip seconds), stride = window - overlap); the last window is
   aligned to the video's end, so every clip is covered.
2. Each window is scored as a whole video would be (`score_windows`: L2 normalisation and the
   reference's averaging inside the window, the model, `sigmoid(logits) * mask`), in chunks of
   `window_batch` windows, so memory stays bounded for a video of any length.
3. Each window's proposals (`protocol.proposals.ranked_proposals`) are mapped to the video's
   seconds and merged over the union of all windows: ranked by the model's probability, then
   the reference's greedy NMS (`merge_moments`, the one call of `protocol.nms.nms_keep` here).

`windowed_moments` is used by the serving module (`MomentRetrievalModule.serve`), so the
SavedModel, `mgpn predict` and the Python API (`mgpn_keras.retrieval.retriever`) run this one
implementation. A batch whose videos are all no longer than the window takes the whole-video
path unchanged (bit-equal results). Only core TensorFlow ops: the exported graph stays
portable (no XLA, no cuDNN-only kernels).
"""

from __future__ import annotations

import numbers

import numpy as np
import tensorflow as tf

from mgpn_keras.protocol.nms import NO_MOMENT_SCORE, nms_keep
from mgpn_keras.protocol.proposals import ranked_proposals


def check_window(window_seconds, overlap_seconds=None) -> tuple[float, float]:
    """(window_seconds, stride_seconds) after checking the settings; overlap default: half.

    Raises:
        ValueError: a window that is not a positive number, or an overlap outside
            [0, window).
    """
    if isinstance(window_seconds, bool) or not isinstance(window_seconds, numbers.Real) \
            or not window_seconds > 0:
        raise ValueError(f"window_seconds = {window_seconds!r}: expected a positive number of "
                         f"seconds")
    window = float(window_seconds)
    overlap = window / 2 if overlap_seconds is None else float(overlap_seconds)
    if not 0 <= overlap < window:
        raise ValueError(f"window overlap of {overlap:g} s with a window of {window:g} s: "
                         f"expected an overlap in [0, {window:g}) s, shorter than the window")
    return window, window - overlap


def check_clip_length(window_seconds: float, num_clips: int, duration: float,
                      what: str = "the video") -> None:
    """Raise ValueError when the window is shorter than one clip of a video (Python side of
    the graph's check, with the numbers)."""
    clip = float(duration) / max(int(num_clips), 1)
    if window_seconds is not None and float(duration) > window_seconds \
            and window_seconds < clip:
        raise ValueError(f"window of {window_seconds:g} s is shorter than one clip of {what} "
                         f"({num_clips} clips over {float(duration):g} s = {clip:g} s a clip): "
                         f"expected a window of at least one clip")


def window_layout(num_clips: tf.Tensor, duration: tf.Tensor, window_seconds: float,
                  stride_seconds: float):
    """Where the windows of one video lie, in raw clips.

    Args:
        num_clips: scalar int32 T, the video's raw clip count.
        duration: scalar float32 seconds.
        window_seconds, stride_seconds: Python floats (stride = window - overlap).

    Returns:
        window_clips: scalar int32 n, clips per window (n = T when one window covers it all).
        starts: (m,) int32 first clip of each window, ascending; the last is T - n.
    """
    clips = tf.cast(num_clips, tf.float32)
    rate = clips / duration  # clips per second
    window_clips = tf.cast(tf.round(np.float32(window_seconds) * rate), tf.int32)
    window_clips = tf.clip_by_value(window_clips, 1, num_clips)
    stride = tf.maximum(tf.cast(tf.round(np.float32(stride_seconds) * rate), tf.int32), 1)
    rest = num_clips - window_clips
    count = 1 + (rest + stride - 1) // stride  # ceil(rest / stride) more windows
    starts = tf.minimum(tf.range(count, dtype=tf.int32) * stride, rest)
    return window_clips, starts


def window_bounds(num_clips: int, duration: float, window_seconds: float,
                  stride_seconds: float) -> np.ndarray:
    """(m, 2) float64 [start, end] seconds of a video's windows (for plots and reports)."""
    n, starts = window_layout(tf.constant(int(num_clips)), tf.constant(float(duration),
                              tf.float32), window_seconds, stride_seconds)
    clip = np.float64(duration) / num_clips
    starts = starts.numpy().astype(np.float64)
    return np.stack([starts * clip, (starts + int(n)) * clip], axis=-1)


def merge_moments(times: tf.Tensor, scores: tf.Tensor, nms_threshold: float,
                  top_k: int) -> dict[str, tf.Tensor]:
    """The top-k moments of a union of proposals: rank by score, greedy NMS.

    Args:
        times: (P, 2) float32 [start, end] seconds, any order.
        scores: (P,) float32.

    Returns:
        {"start", "end", "score"}: (top_k,) float32, best first, padded as
        `protocol.nms.top_moments` pads (start = end = 0, score = NO_MOMENT_SCORE).
    """
    # Ties keep their union order (window by window, each best first).
    order = tf.argsort(scores, direction="DESCENDING", stable=True)
    times, scores = tf.gather(times, order), tf.gather(scores, order)
    keep = nms_keep(times[None], nms_threshold, top_k)[0]  # (top_k,)
    found = keep >= 0
    index = tf.maximum(keep, 0)
    kept_times, kept_scores = tf.gather(times, index), tf.gather(scores, index)
    zero = tf.zeros_like(kept_scores)
    return {
        "start": tf.where(found, kept_times[:, 0], zero),
        "end": tf.where(found, kept_times[:, 1], zero),
        "score": tf.where(found, kept_scores,
                          tf.fill(tf.shape(kept_scores), NO_MOMENT_SCORE)),
    }


def windowed_moments(score_windows, features: tf.Tensor, duration: tf.Tensor, *,
                     window_seconds: float, stride_seconds: float, num_clips: int,
                     nms_threshold: float, top_k: int, window_batch: int,
                     score_presence=None, top_m: int | None = None):
    """Top-k moments of each query of a batch, by windows.

    Args:
        score_windows: `f(row, clips) -> (C, N, N)` joint probabilities of query `row` (scalar
            int32) on C windows of raw clip features `clips` (C, n, D).
        features: (B, T, D) float32 raw clip features.
        duration: (B,) float32 seconds.
        window_seconds, stride_seconds: from `check_window`.
        num_clips: N, the side of the model's map.
        nms_threshold, top_k: as for `protocol.nms.top_moments`.
        window_batch: windows per `score_windows` call.
        score_presence, top_m: the coarse pass (`coarse_to_fine.top_windows`): with both,
            `score_presence(row, clips) -> (C,)` ranks every window first and only the top_m
            go to `score_windows`, in their order in the video (so top_m >= the number of
            windows gives the answers of scoring every window, bit for bit).

    Returns:
        {"start", "end", "score"}: (B, top_k) float32 seconds of the video, best first.
    """
    batch, total = tf.shape(features)[0], tf.shape(features)[1]

    def one_row(row):
        video, length = features[row], duration[row]  # (T, D), ()
        clip_seconds = length / tf.cast(total, tf.float32)
        fits = tf.logical_or(length <= np.float32(window_seconds),
                             np.float32(window_seconds) >= clip_seconds)
        check = tf.debugging.Assert(fits, [
            f"window of {window_seconds:g} s is shorter than one clip of the video: expected "
            f"a window of at least one clip (duration / clips seconds)"])
        with tf.control_dependencies([check]):
            window_clips, starts = window_layout(total, length, window_seconds,
                                                 stride_seconds)
        # One window over the whole video keeps its exact duration (no clip rounding).
        window_length = tf.where(window_clips >= total, length,
                                 tf.cast(window_clips, tf.float32) * clip_seconds)
        if score_presence is not None and top_m is not None:
            from mgpn_keras.retrieval.coarse_to_fine import top_windows

            starts = top_windows(lambda clips: score_presence(row, clips), video, starts,
                                 window_clips, window_batch, top_m)
        count = tf.shape(starts)[0]
        chunks = (count + window_batch - 1) // window_batch
        all_times = tf.TensorArray(tf.float32, size=chunks, infer_shape=False)
        all_scores = tf.TensorArray(tf.float32, size=chunks, infer_shape=False)

        def chunk(c, all_times, all_scores):
            first = starts[c * window_batch:(c + 1) * window_batch]  # (C,)
            rows = first[:, None] + tf.range(window_clips)[None, :]  # (C, n)
            prob = score_windows(row, tf.gather(video, rows))  # (C, N, N)
            size = tf.shape(first)[0]
            times, scores = ranked_proposals(
                prob, tf.fill([size], window_length), num_clips)  # (C, K, 2), (C, K)
            offset = tf.cast(first, tf.float32) * clip_seconds  # (C,) window start, seconds
            times = times + offset[:, None, None]
            return (c + 1, all_times.write(c, tf.reshape(times, [-1, 2])),
                    all_scores.write(c, tf.reshape(scores, [-1])))

        _, all_times, all_scores = tf.while_loop(
            lambda c, *_: c < chunks, chunk, (tf.constant(0), all_times, all_scores))
        merged = merge_moments(all_times.concat(), all_scores.concat(), nms_threshold, top_k)
        return merged["start"], merged["end"], merged["score"]

    spec = tf.TensorSpec([top_k], tf.float32)
    start, end, score = tf.map_fn(one_row, tf.range(batch), fn_output_signature=(spec,) * 3)
    return {"start": start, "end": end, "score": score}


def needs_windows(duration: tf.Tensor, window_seconds: float | None) -> tf.Tensor:
    """Scalar bool: whether any video of the batch is longer than the window."""
    if window_seconds is None:
        return tf.constant(False)
    return tf.reduce_any(duration > np.float32(window_seconds))


def default_window(cfg, manifest=None) -> tuple[float | None, float | None]:
    """(window_seconds, window_overlap_seconds) of a run: the config's values, else the
    default of the training split's statistics that `mgpn prepare` recorded in the manifest
    (`datasets.durations.default_window_seconds`: twice the p99 moment length), with the
    config's overlap (None: half a window).

    Returns (None, None) when neither names a window (a manifest prepared before the
    statistics were recorded): every video is then retrieved whole.
    """
    from mgpn_keras.datasets.durations import default_window_seconds

    window, overlap = cfg.eval.window_seconds, cfg.eval.window_overlap_seconds
    if window is None and manifest is not None:
        stats = (getattr(manifest, "info", None) or {}).get("durations", {}).get("train")
        window = default_window_seconds(stats)
    if window is None:
        return None, None
    check_window(window, overlap)
    return float(window), overlap
