"""Evaluation of moment retrieval: proposals, NMS, R@n,IoU=m and mIoU (REFERENCE.md 5.7).

The protocol is the reference's (`moment_localization/train.py:get_proposal_results` and
`lib/core/eval.py`), step for step:

1. Per query, the (N, N) map `joint_prob = sigmoid(score_map) * mask` is flattened row-major
   (index i * N + j) and ranked with `np.argsort(...)[::-1]`: numpy's default (quicksort)
   kind, reversed, so equal scores come in the order that sort leaves them.
2. Only cells with i <= j are kept (invalid upper-triangle cells stay, with score 0, at the
   end): K = N (N + 1) / 2 proposals with times `[i, j + 1] / N * duration` seconds.
3. Greedy NMS in that order: a remaining proposal survives when its overlap
   `inter / (len_a + len_b - inter)` with the one just kept is <= the threshold; it stops
   after `top_k = max(recall)` proposals.
4. IoU with the ground truth (`protocol.interval_iou`: `inter / hull`, 0 for disjoint
   intervals, NaN for two equal empty ones, which no threshold counts as a hit):
   R@r,IoU=t is the mean over queries of `(iou > t)[:r].any()` (strict `>`), and mIoU the
   mean over queries of the top-1 proposal's IoU.

Results are fractions in [0, 1]; `format_table` shows them x100 like the reference. It takes
NumPy arrays or eager tensors. The protocol steps (proposals, NMS, interval IoU) are the
TensorFlow operations of `mgpn_keras.protocol` that serving runs too; only the ranking's sort
is numpy's, for its tie order (below), and the tallies of hits are NumPy.

Two properties of the reference are kept on purpose:
- Times are computed in float32 (`float32(i) / N * float32(duration)`, as the reference's
  `sorted_indexs.float() / target_size * duration` does) and returned as float64.
- The order of tied scores is whatever numpy's default argsort gives, which depends on the
  numpy version and on the SIMD code it dispatches to (AVX2 and AVX-512 sort ties
  differently). The parity fixtures were made on an AVX2 dispatch; setting
  `NPY_DISABLE_CPU_FEATURES="X86_V4 AVX512_ICL AVX512_SPR"` (numpy 2.4) before importing
  numpy reproduces their tie order on an AVX-512 machine.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

import numpy as np

import tensorflow as tf

from mgpn_keras.protocol.interval_iou import interval_iou
from mgpn_keras.protocol.nms import nms_keep
from mgpn_keras.protocol.proposals import ranked_proposals
from mgpn_keras.valid_cells.geometry import valid_mask


# ----------------------------------------------------------------------------- inputs
def _as_maps(scores, num_clips: int, name: str = "scores") -> np.ndarray:
    """(B, N, N) or (B, N, N, 1) -> (B, N, N) array, checked against `num_clips`."""
    arr = np.asarray(scores)
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim != 3 or arr.shape[1:] != (num_clips, num_clips):
        raise ValueError(f"{name} have shape {tuple(np.shape(scores))}, expected "
                         f"(batch, {num_clips}, {num_clips}) or (batch, {num_clips}, "
                         f"{num_clips}, 1) for num_clips = {num_clips}")
    if not np.issubdtype(arr.dtype, np.floating) or arr.dtype.itemsize < 4:
        arr = arr.astype(np.float32)  # integers, and float16 / bfloat16 of mixed precision
    return arr


def _as_durations(durations, batch: int) -> np.ndarray:
    d = np.asarray(durations, np.float64)
    if d.ndim == 0:
        d = np.full((batch,), float(d))
    d = d.reshape(-1)
    if d.shape != (batch,):
        raise ValueError(f"durations have shape {np.shape(durations)}, expected ({batch},) "
                         f"(one per query) or a scalar")
    return d


def _as_gt(gt_times, batch: int) -> np.ndarray:
    g = np.asarray(gt_times, np.float64)
    if g.shape != (batch, 2):
        raise ValueError(f"gt_times have shape {g.shape}, expected ({batch}, 2) [start, end] "
                         f"seconds, one row per query")
    return g


def joint_probabilities(logits, num_scale_layers, num_clips: int | None = None) -> np.ndarray:
    """`sigmoid(logits) * mask`, the reference's `joint_prob`.

    Args:
        logits: (B, N, N) or (B, N, N, 1) score map (pre-sigmoid), float32 as the model gives it.
        num_scale_layers: the preset's `model.num_scale_layers`; with N it fixes the mask
            (`mgpn_keras.valid_cells.geometry.valid_mask`).
        num_clips: N; taken from `logits` when omitted.

    Returns:
        (B, N, N) probabilities in the dtype of `logits`, exactly 0 on invalid cells.
    """
    if num_clips is None:
        num_clips = int(np.shape(logits)[1])
    x = _as_maps(logits, num_clips, "logits")
    one = x.dtype.type(1)
    with np.errstate(over="ignore"):
        prob = one / (one + np.exp(-x))
    return prob * valid_mask(num_clips, num_scale_layers).astype(x.dtype)


def _probabilities(scores, num_clips, from_logits, num_scale_layers) -> np.ndarray:
    if from_logits:
        if num_scale_layers is None:
            raise ValueError("from_logits=True needs num_scale_layers (the preset's "
                             "model.num_scale_layers) to build the valid-cell mask")
        return joint_probabilities(scores, num_scale_layers, num_clips)
    return _as_maps(scores, num_clips, "joint_prob")


# ----------------------------------------------------------------------------- proposals
def sorted_proposals(joint_prob, duration, num_clips: int) -> tuple[np.ndarray, np.ndarray]:
    """All candidate moments of each query, best first, as the reference ranks them.

    Args:
        joint_prob: (B, N, N) or (B, N, N, 1) `sigmoid(score_map) * mask`; row i is the
            start clip, column j the end clip.
        duration: (B,) video durations in seconds, or a scalar for all queries.
        num_clips: N (the reference's NUM_SAMPLE_CLIPS // TARGET_STRIDE).

    Returns:
        times: (B, K, 2) float64 [start, end] seconds, K = N (N + 1) / 2, in descending
            score order (`np.argsort(flat)[::-1]`, cells with i > j dropped), computed in
            float32 as the reference does.
        scores: (B, K) the joint probability of each proposal, dtype of `joint_prob`.
    """
    prob = _as_maps(joint_prob, num_clips, "joint_prob")
    batch = prob.shape[0]
    durations = _as_durations(duration, batch)
    # The reference's ranking, np.argsort(score.ravel())[::-1] per query with numpy's default
    # kind: it fixes the order of tied scores as the reference's numpy leaves them (a row-wise
    # argsort over axis -1 runs the same 1-D sort on each row). Everything after it is the
    # protocol's (`protocol.proposals`), as in serving.
    order = np.argsort(prob.reshape(batch, num_clips * num_clips), axis=-1)[:, ::-1]
    times, scores = _ranked_proposals(num_clips, prob.dtype.name)(
        prob, durations.astype(np.float32), np.ascontiguousarray(order, np.int32))
    return times.numpy().astype(np.float64), scores.numpy()


# The protocol's graph functions, traced once per geometry / NMS setting (run op by op, small
# batches would spend their time in Python).
@functools.lru_cache(maxsize=None)
def _ranked_proposals(num_clips: int, dtype: str):
    cells = num_clips * num_clips
    return tf.function(lambda prob, duration, order: ranked_proposals(prob, duration, num_clips,
                                                                      order),
                       input_signature=[tf.TensorSpec([None, num_clips, num_clips], dtype),
                                        tf.TensorSpec([None], tf.float32),
                                        tf.TensorSpec([None, cells], tf.int32)])


@functools.lru_cache(maxsize=None)
def _nms_keep(threshold: float, top_k: int):
    return tf.function(lambda times: nms_keep(times, threshold, top_k),
                       input_signature=[tf.TensorSpec([None, None, 2], tf.float64)])


# ----------------------------------------------------------------------------- NMS
def nms_indices(times, threshold: float, top_k: int | None) -> np.ndarray:
    """Greedy NMS of proposals already in score order, for a batch at once (`protocol.nms`).

    The reference's `core.eval.nms`: take the first remaining proposal, then drop every later
    one whose overlap `inter / (len_a + len_b - inter)` with it is > `threshold` (one equal to
    the threshold survives; a NaN overlap does not); stop after `top_k`.

    Args:
        times: (B, K, 2) [start, end] seconds, best first.
        threshold: the NMS threshold (the preset's `eval.nms_threshold`).
        top_k: the most proposals to keep per query; None or -1 keeps all survivors.

    Returns:
        (B, top_k) int64 indices into K in keep order, padded with -1 where a query has
        fewer survivors (for top_k None/-1 the width is K).
    """
    times = np.asarray(times, np.float64)
    if times.ndim != 3 or times.shape[-1] != 2:
        raise ValueError(f"times have shape {times.shape}, expected (batch, proposals, 2)")
    batch, count = times.shape[:2]
    limit = count if top_k is None or top_k < 0 else int(top_k)
    if count == 0 or limit == 0:
        return np.full((batch, limit), -1, np.int64)
    return _nms_keep(float(threshold), limit)(times).numpy().astype(np.int64)


# ----------------------------------------------------------------------------- evaluation
def _check_protocol(recall, iou_thresholds) -> tuple[tuple[int, ...], tuple[float, ...]]:
    recall = tuple(int(r) for r in recall)
    iou_thresholds = tuple(float(t) for t in iou_thresholds)
    if not recall or any(r <= 0 for r in recall):
        raise ValueError(f"recall = {list(recall)}: expected a non-empty list of positive ints")
    if not iou_thresholds:
        raise ValueError("iou_thresholds is empty: expected values such as [0.3, 0.5, 0.7]")
    return recall, iou_thresholds


def _top_moments_of(prob, durations, num_clips, nms_threshold, top_k):
    times, scores = sorted_proposals(prob, durations, num_clips)
    keep = nms_indices(times, nms_threshold, top_k)
    moments = []
    for t, s, k in zip(times, scores, keep):
        k = k[k >= 0]
        moments.append(np.concatenate([t[k], s[k, None].astype(np.float64)], axis=-1))
    return moments


def _score_queries(moments, gt, recall, iou_thresholds):
    """Per-query hits (B, len(recall), len(iou_thresholds)) and top-1 IoU (B,)."""
    batch = len(moments)
    width = max([len(m) for m in moments] + [1])
    times = np.zeros((batch, width, 2), np.float64)
    found = np.zeros((batch, width), bool)
    for q, kept in enumerate(moments):
        times[q, :len(kept)] = kept[:, :2]
        found[q, :len(kept)] = True
    overlap = interval_iou(times, np.asarray(gt, np.float64)[:, None, :]).numpy()  # (B, k)
    top1 = overlap[:, 0]  # mean(sort(overlap[0])[-3:]) of a single value
    hits = np.zeros((batch, len(recall), len(iou_thresholds)), bool)
    for b, t in enumerate(iou_thresholds):
        above = (overlap > t) & found
        for a, r in enumerate(recall):
            hits[:, a, b] = above[:, :r].any(axis=1)
    return hits, top1


def _summarise(hits, top1, recall, iou_thresholds) -> dict[str, float]:
    if len(top1) == 0:
        raise ValueError("no queries were evaluated: feed at least one batch first")
    rates = hits.mean(axis=0)
    results = {f"R{r}@{t:g}": float(rates[a, b])
               for a, r in enumerate(recall) for b, t in enumerate(iou_thresholds)}
    results["mIoU"] = float(np.mean(top1))
    return results


def top_moments(scores, durations, num_clips: int, nms_threshold: float, top_k: int = 5, *,
                from_logits: bool = False, num_scale_layers=None) -> list[np.ndarray]:
    """The NMS-kept best moments of each query, as the evaluation sees them.

    Args:
        scores: (B, N, N) or (B, N, N, 1) joint probabilities, or logits with
            `from_logits=True` (then `num_scale_layers` is needed for the mask).
        durations: (B,) seconds, or a scalar.
        num_clips: N.
        nms_threshold: the preset's `eval.nms_threshold`.
        top_k: the most moments per query (the evaluation uses max(recall)).

    Returns:
        B float64 arrays of shape (k_b, 3), k_b <= top_k: [start_s, end_s, joint_prob],
        best first.
    """
    prob = _probabilities(scores, num_clips, from_logits, num_scale_layers)
    durations = _as_durations(durations, prob.shape[0])
    return _top_moments_of(prob, durations, num_clips, nms_threshold, top_k)


def evaluate_moments(scores, durations, gt_times, num_clips: int, nms_threshold: float,
                     recall: Sequence[int] = (1, 5),
                     iou_thresholds: Sequence[float] = (0.3, 0.5, 0.7), *,
                     from_logits: bool = False, num_scale_layers=None) -> dict[str, float]:
    """R@r,IoU=t for every r and t, and mIoU, over a set of queries (one shot).

    Args:
        scores: (B, N, N) or (B, N, N, 1) joint probabilities `sigmoid(score_map) * mask`,
            or the logits `score_map` with `from_logits=True` and `num_scale_layers`.
        durations: (B,) video durations in seconds, or a scalar.
        gt_times: (B, 2) ground-truth [start, end] seconds.
        num_clips: N.
        nms_threshold: the preset's `eval.nms_threshold`.
        recall: the r of R@r; NMS keeps max(recall) moments.
        iou_thresholds: the t of IoU > t (strict).

    Returns:
        {"R1@0.3": ..., "R1@0.5": ..., ..., "R5@0.7": ..., "mIoU": ...}: fractions in [0, 1],
        keys `f"R{r}@{t:g}"` in the order r-major then t, then "mIoU" (the same names as
        `mgpn_keras.config.metric_names`).
    """
    recall, iou_thresholds = _check_protocol(recall, iou_thresholds)
    prob = _probabilities(scores, num_clips, from_logits, num_scale_layers)
    batch = prob.shape[0]
    moments = _top_moments_of(prob, _as_durations(durations, batch), num_clips,
                              nms_threshold, max(recall))
    hits, top1 = _score_queries(moments, _as_gt(gt_times, batch), recall, iou_thresholds)
    return _summarise(hits, top1, recall, iou_thresholds)


def evaluate_moment_lists(moments, gt_times, recall: Sequence[int] = (1, 5),
                          iou_thresholds: Sequence[float] = (0.3, 0.5, 0.7)) -> dict[str, float]:
    """`evaluate_moments` of moments already ranked and NMS-kept (e.g. merged over the windows
    of a long video, `mgpn_keras.retrieval.windowing`).

    Args:
        moments: one (k_q, 2+) array per query, [start_s, end_s, ...] best first, k_q >= 1.
        gt_times: (Q, 2) ground-truth [start, end] seconds.
    """
    recall, iou_thresholds = _check_protocol(recall, iou_thresholds)
    moments = [np.asarray(m, np.float64).reshape(len(m), -1) for m in moments]
    hits, top1 = _score_queries(moments, _as_gt(gt_times, len(moments)), recall, iou_thresholds)
    return _summarise(hits, top1, recall, iou_thresholds)


class MomentEvaluator:
    """Streaming `evaluate_moments`: feed batches with `update`, read `result`.

    By default it takes what the model outputs, the logits `score_map` (B, N, N) (or
    (B, N, N, 1)), which are already 0 on invalid cells, and applies `sigmoid(.) * mask`
    itself, the reference's `joint_prob`. Pass `from_logits=False` to feed joint
    probabilities instead. Per-query results are kept, so `result()` after any split into
    batches equals `evaluate_moments` on all queries at once, exactly.

    Args:
        num_clips: N.
        nms_threshold: the preset's `eval.nms_threshold`.
        recall: the r of R@r (default 1, 5).
        iou_thresholds: the t of IoU > t (default 0.3, 0.5, 0.7).
        num_scale_layers: the preset's `model.num_scale_layers`; required with
            `from_logits=True` (the valid-cell mask).
        from_logits: whether `update` receives logits (default) or joint probabilities.

    Example:
        evaluator = MomentEvaluator.for_config(cfg)
        for batch in test_set:
            evaluator.update(model(batch["inputs"]), batch["duration"], batch["times"])
        print(format_table(evaluator.result(), "test"))
    """

    def __init__(self, num_clips: int, nms_threshold: float, recall: Sequence[int] = (1, 5),
                 iou_thresholds: Sequence[float] = (0.3, 0.5, 0.7), *,
                 num_scale_layers=None, from_logits: bool = True):
        if from_logits and num_scale_layers is None:
            raise ValueError("MomentEvaluator(from_logits=True) needs num_scale_layers (the "
                             "preset's model.num_scale_layers) to build the valid-cell mask")
        self.num_clips = int(num_clips)
        self.nms_threshold = float(nms_threshold)
        self.recall, self.iou_thresholds = _check_protocol(recall, iou_thresholds)
        self.num_scale_layers = None if num_scale_layers is None else list(num_scale_layers)
        self.from_logits = bool(from_logits)
        self.reset()

    @classmethod
    def for_config(cls, cfg, from_logits: bool = True) -> "MomentEvaluator":
        """The evaluator of a `mgpn_keras.config.Config` (its model and eval sections)."""
        return cls(cfg.model.num_clips, cfg.eval.nms_threshold, cfg.eval.recall,
                   cfg.eval.iou_thresholds, num_scale_layers=cfg.model.num_scale_layers,
                   from_logits=from_logits)

    def reset(self) -> None:
        """Forget every query fed so far."""
        self._hits: list[np.ndarray] = []
        self._top1: list[np.ndarray] = []

    @property
    def num_queries(self) -> int:
        return int(sum(len(t) for t in self._top1))

    def update(self, scores, durations, gt_times) -> list[np.ndarray]:
        """Add a batch of queries.

        Args:
            scores: (B, N, N) or (B, N, N, 1) logits (or joint probabilities, see
                `from_logits`), NumPy or eager tensor.
            durations: (B,) seconds.
            gt_times: (B, 2) ground-truth [start, end] seconds.

        Returns:
            The batch's top moments, as `top_moments` gives them: B arrays (k_b, 3) of
            [start_s, end_s, joint_prob].
        """
        prob = _probabilities(scores, self.num_clips, self.from_logits, self.num_scale_layers)
        batch = prob.shape[0]
        moments = _top_moments_of(prob, _as_durations(durations, batch), self.num_clips,
                                  self.nms_threshold, max(self.recall))
        hits, top1 = _score_queries(moments, _as_gt(gt_times, batch), self.recall,
                                    self.iou_thresholds)
        self._hits.append(hits)
        self._top1.append(top1)
        return moments

    def per_query(self) -> tuple[np.ndarray, np.ndarray]:
        """Every query's hits (Q, len(recall), len(iou_thresholds)) bool and top-1 IoU (Q,)
        float64, in feeding order (Q = 0 before any update)."""
        if not self._top1:
            return np.zeros((0, len(self.recall), len(self.iou_thresholds)), bool), np.zeros((0,))
        return np.concatenate(self._hits), np.concatenate(self._top1)

    def result(self) -> dict[str, float]:
        """The metrics over every query fed since the last `reset` (see `evaluate_moments`)."""
        if not self._top1:
            raise ValueError("MomentEvaluator.result(): no queries yet; call update() first")
        return _summarise(np.concatenate(self._hits), np.concatenate(self._top1),
                          self.recall, self.iou_thresholds)


# ----------------------------------------------------------------------------- display
_RECALL_KEY = re.compile(r"^R(\d+)@(.+)$")


def format_table(results: dict, title: str | None = None) -> str:
    """A text table of `evaluate_moments` results, in percent with two decimals.

    Rows R@1, R@5, ... and columns IoU=t, then a mIoU row; any other entries of `results`
    (e.g. a loss) are listed below as `name: value`.

    Example output:
        test (%)
               IoU=0.3  IoU=0.5  IoU=0.7
        R@1      55.91    41.32    22.10
        R@5      86.55    72.37    46.01
        mIoU     39.82
    """
    recalls: list[str] = []
    tious: list[str] = []
    cells: dict[tuple[str, str], float] = {}
    others: list[tuple[str, object]] = []
    for key, value in results.items():
        match = _RECALL_KEY.match(str(key))
        if match:
            r, t = match.groups()
            recalls += [r] if r not in recalls else []
            tious += [t] if t not in tious else []
            cells[(r, t)] = float(value)
        elif key != "mIoU":
            others.append((key, value))
    width = max([9] + [len(f"IoU={t}") + 2 for t in tious])
    lines = [f"{title} (%)" if title else "(%)"]
    if tious:
        lines.append(" " * 6 + "".join(f"IoU={t}".rjust(width) for t in tious))
    for r in recalls:
        row = "".join((f"{100 * cells[(r, t)]:.2f}" if (r, t) in cells else "-").rjust(width)
                      for t in tious)
        lines.append(f"R@{r}".ljust(6) + row)
    if "mIoU" in results:
        lines.append("mIoU".ljust(6) + f"{100 * float(results['mIoU']):.2f}".rjust(width))
    for key, value in others:
        text = f"{value:.4f}" if isinstance(value, (float, np.floating)) else str(value)
        lines.append(f"{key}: {text}")
    return "\n".join(lines)
