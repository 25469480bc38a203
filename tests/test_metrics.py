"""Evaluation protocol (mgpn_keras.evaluation.metrics) against the reference fixtures and hand-worked cases."""

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mgpn_keras.config import metric_names, preset
from mgpn_keras.evaluation.metrics import (MomentEvaluator, evaluate_moments, format_table,
                                           joint_probabilities, nms_indices, sorted_proposals,
                                           top_moments)
from oracles import batched_nms, nms
from oracles import protocol_iou as iou
from mgpn_keras.valid_cells.geometry import valid_mask

REPO = Path(__file__).resolve().parents[1]
from conftest import load_fixture_io  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
FIXTURE_NAMES = ("small", "small_gain")
N, SCALES = 32, [15, 8]  # the fixtures' Charades I3D geometry


def load_fixture(name):
    return load_fixture_io(name)


def fixture_durations(fx):
    return np.full(fx["gt_times"].shape[0], float(fx["duration"]))


# ----------------------------------------------------------------------------- fixtures
def test_fixture_small_gain_proposals_nms_and_iou_exact():
    # small_gain's few tied scores sit far below the top 20 and the NMS path (rank >= 126),
    # so its order is the same whatever tie order numpy's sort uses.
    fx = load_fixture("small_gain")
    times, scores = sorted_proposals(fx["joint_prob"][:, 0], fixture_durations(fx), N)
    assert times.shape == (3, N * (N + 1) // 2, 2) and times.dtype == np.float64
    np.testing.assert_array_equal(times[:, :20], fx["sorted_times_top20"])
    kept = batched_nms(times, 0.45, 5)
    for q in range(3):
        np.testing.assert_array_equal(kept[q], fx["nms_top5_times"][q])
        np.testing.assert_allclose(iou(kept[q], fx["gt_times"][q][None]), fx["nms_top5_iou"][q],
                                   rtol=0, atol=1e-12)


def _equal_up_to_ties(times, scores, ref):
    """Mismatches between ranked `times` and the reference's first rows `ref`, allowing any
    order among equal scores (the reference's quicksort leaves ties in arbitrary order)."""
    problems = []
    top = len(ref)
    bounds = np.flatnonzero(np.diff(scores)) + 1
    for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(scores)]):
        if lo >= top:
            break
        mine = sorted(map(tuple, times[lo:hi]))
        theirs = sorted(map(tuple, ref[lo:min(hi, top)]))
        remaining = list(mine)
        for row in theirs:
            if row in remaining:
                remaining.remove(row)
            else:
                problems.append((lo, hi, row))
    return problems


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_proposals_equal_up_to_tie_order(name):
    fx = load_fixture(name)
    times, scores = sorted_proposals(fx["joint_prob"][:, 0], fixture_durations(fx), N)
    for q in range(3):
        assert np.all(np.diff(scores[q]) <= 0), "proposals are not in descending score order"
        assert _equal_up_to_ties(times[q], scores[q], fx["sorted_times_top20"][q]) == []


_EXACT_SCRIPT = r"""
import json, sys
import numpy as np
from mgpn_keras.evaluation.metrics import sorted_proposals
from oracles import batched_nms
from oracles import protocol_iou as iou
out = {}
for name in sys.argv[2:]:
    with np.load(f"{sys.argv[1]}/{name}_io.npz", allow_pickle=False) as d:
        fx = {k: d[k] for k in d.files}
    times, _ = sorted_proposals(fx["joint_prob"][:, 0], float(fx["duration"]), 32)
    kept = batched_nms(times, 0.45, 5)
    out[name] = {
        "top20": bool(np.array_equal(times[:, :20], fx["sorted_times_top20"])),
        "nms": all(np.array_equal(k, r) for k, r in zip(kept, fx["nms_top5_times"])),
        "iou": max(float(np.max(np.abs(iou(k, g[None]) - r)))
                   for k, g, r in zip(kept, fx["gt_times"], fx["nms_top5_iou"])),
    }
print(json.dumps(out))
"""


def _numpy_cpu_dispatch():
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    except ImportError:  # numpy 1.x
        from numpy.core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    return list(__cpu_dispatch__), dict(__cpu_features__)


def test_fixture_exact_order_with_the_reference_sort_kernel():
    """The `small` fixture has exact ties in its top 20 (its queries' maps are nearly
    constant, REFERENCE.md 4.1): their order is that of numpy's AVX2 argsort, on which the
    fixtures were made. With numpy pinned to its AVX2 code, the whole pipeline must match
    the reference exactly, ties included."""
    load_fixture("small")
    if platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip(f"the fixtures' tie order is numpy's x86 AVX2 sort; this is "
                    f"{platform.machine()}")
    dispatch, features = _numpy_cpu_dispatch()
    if not features.get("AVX2"):
        pytest.skip("the fixtures' tie order is numpy's AVX2 sort; this CPU has no AVX2")
    above_avx2 = [f for f in dispatch if f == "X86_V4" or f.startswith("AVX512")]
    path = os.pathsep.join([str(REPO), str(REPO / "tests"), os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, PYTHONPATH=path)
    env.pop("NPY_ENABLE_CPU_FEATURES", None)
    if any(features.get(f) for f in above_avx2):
        env["NPY_DISABLE_CPU_FEATURES"] = " ".join(above_avx2)
    run = subprocess.run([sys.executable, "-c", _EXACT_SCRIPT, str(FIXTURES), *FIXTURE_NAMES],
                         env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    for name in FIXTURE_NAMES:
        assert result[name]["top20"], f"{name}: sorted_times_top20 differ"
        assert result[name]["nms"], f"{name}: nms_top5_times differ"
        assert result[name]["iou"] <= 1e-12, f"{name}: nms_top5_iou differ"


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_joint_probabilities_match_fixture(name):
    fx = load_fixture(name)
    prob = joint_probabilities(fx["score_map"][:, 0], SCALES)
    assert prob.dtype == np.float32
    # torch's and numpy's float32 sigmoid differ by at most one ulp (6e-8 near 0.5).
    np.testing.assert_allclose(prob, fx["joint_prob"][:, 0], rtol=0, atol=6e-8)
    assert np.all(prob[:, valid_mask(N, SCALES) == 0] == 0)


# ----------------------------------------------------------------------------- proposals
def test_sorted_proposals_structure_and_float32_times():
    rng = np.random.default_rng(0)
    n, duration = 8, 30.47
    prob = rng.random((2, n, n)).astype(np.float32)
    times, scores = sorted_proposals(prob, [duration, 12.0], n)
    k = n * (n + 1) // 2
    assert times.shape == (2, k, 2) and scores.shape == (2, k)
    assert np.all(np.diff(scores, axis=1) <= 0)
    start = np.rint(times[0, :, 0] / np.float32(duration) * n).astype(int)
    end = np.rint(times[0, :, 1] / np.float32(duration) * n).astype(int) - 1
    assert np.all(start <= end)
    assert len(set(zip(start, end))) == k  # every upper-triangle cell once
    np.testing.assert_array_equal(scores[0], prob[0, start, end])
    # Times are float32(i) / N * float32(duration), as the reference computes them.
    expect = (start.astype(np.float32) / np.float32(n) * np.float32(duration)).astype(np.float64)
    np.testing.assert_array_equal(times[0, :, 0], expect)
    assert not np.array_equal(expect, start / n * duration)  # float32 rounding is visible
    # Channels-last (B, N, N, 1) gives the same; a wrong N is an error naming the shape.
    again, _ = sorted_proposals(prob[..., None], [duration, 12.0], n)
    np.testing.assert_array_equal(again, times)
    with pytest.raises(ValueError, match=r"\(batch, 16, 16\)"):
        sorted_proposals(prob, [duration, 12.0], 16)


def test_sorted_proposals_reverses_the_argsort_and_drops_lower_triangle():
    prob = np.zeros((1, 3, 3), np.float32)
    prob[0, 2, 0] = 0.9  # lower triangle: never a proposal
    prob[0, 1, 2] = 0.8
    prob[0, 0, 0] = 0.7
    times, scores = sorted_proposals(prob, 3.0, 3)
    np.testing.assert_array_equal(times[0, :2], [[1.0, 3.0], [0.0, 1.0]])
    np.testing.assert_array_equal(scores[0, :2], np.float32([0.8, 0.7]))
    # The four zero-score upper-triangle cells follow, in the sort's tie order.
    assert times.shape == (1, 6, 2)
    assert np.all(scores[0, 2:] == 0)


# ----------------------------------------------------------------------------- IoU and NMS
def test_iou_hand_values_and_broadcasting():
    assert iou([0.0, 10.0], [5.0, 15.0]) == pytest.approx(5 / 15)
    assert iou([0.0, 10.0], [2.0, 4.0]) == pytest.approx(0.2)
    assert iou([0.0, 1.0], [3.0, 4.0]) == 0.0  # disjoint: inter 0 over the hull
    a = np.array([[0.0, 10.0], [5.0, 15.0], [20.0, 30.0]])
    b = np.array([[0.0, 10.0], [0.0, 5.0]])
    pair = iou(a[:, None], b[None])
    assert pair.shape == (3, 2)
    np.testing.assert_allclose(pair, [[1.0, 0.5], [1 / 3, 0.0], [0.0, 0.0]])
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        iou(np.zeros((3, 3)), b)


def test_nms_keeps_overlap_equal_to_threshold():
    # [0, 5] against the kept [0, 10]: inter 5 / (10 + 5 - 5) = 0.5 exactly.
    times = np.array([[0.0, 10.0], [0.0, 5.0], [2.0, 9.0]])
    np.testing.assert_array_equal(nms(times, 0.5, 5), [[0.0, 10.0], [0.0, 5.0]])
    # Just below the overlap: suppressed.
    np.testing.assert_array_equal(nms(times, 0.4999, 5), [[0.0, 10.0]])
    # [2, 9] against [0, 10]: 7 / 10 = 0.7 -> kept at 0.7, not at 0.69.
    np.testing.assert_array_equal(nms(times, 0.7, 5), times)
    np.testing.assert_array_equal(nms(times, 0.69, 5), [[0.0, 10.0], [0.0, 5.0]])


def test_nms_suppresses_against_each_kept_one_in_turn_and_stops_at_top_k():
    times = np.array([[0, 10], [1, 10], [20, 30], [21, 30], [40, 50], [60, 70]], float)
    # [1,10] vs [0,10]: 0.9 -> out; [21,30] vs [20,30]: 0.9 -> out.
    np.testing.assert_array_equal(nms(times, 0.45, None), times[[0, 2, 4, 5]])
    np.testing.assert_array_equal(nms(times, 0.45, -1), times[[0, 2, 4, 5]])
    np.testing.assert_array_equal(nms(times, 0.45, 2), times[[0, 2]])
    np.testing.assert_array_equal(nms(times, 0.95, 3), times[:3])
    keep = nms_indices(np.stack([times, times[::-1]]), 0.45, 5)
    np.testing.assert_array_equal(keep, [[0, 2, 4, 5, -1], [0, 1, 2, 4, -1]])


def test_batched_nms_equals_per_query_nms():
    rng = np.random.default_rng(1)
    start = rng.uniform(0, 20, (4, 50))
    times = np.stack([start, start + rng.uniform(0.5, 10, (4, 50))], axis=-1)
    batch = batched_nms(times, 0.45, 5)
    for q in range(4):
        np.testing.assert_array_equal(batch[q], nms(times[q], 0.45, 5))
        assert len(batch[q]) == 5


# ----------------------------------------------------------------------------- metrics
def _map_with(cells, n=4):
    """(1, n, n) joint_prob with the given {(i, j): score} and 0 elsewhere."""
    prob = np.zeros((1, n, n), np.float32)
    for (i, j), value in cells.items():
        prob[0, i, j] = value
    return prob


def test_recall_threshold_is_strict():
    # N = 4 clips over 4 s: cell (i, j) is [i, j + 1] s. Top-1 [0, 2] vs GT [0, 4]: IoU 0.5.
    prob = _map_with({(0, 1): 0.9})
    res = evaluate_moments(prob, 4.0, [[0.0, 4.0]], 4, 0.45, recall=(1,), iou_thresholds=(0.3, 0.5))
    assert res["R1@0.3"] == 1.0
    assert res["R1@0.5"] == 0.0  # IoU exactly 0.5 is not > 0.5
    assert res["mIoU"] == 0.5


def test_miou_is_top1_iou_and_recall_uses_the_top_r():
    # GT [0, 4]. Top-1 [3, 4] (IoU 0.25); next survivors [0, 3] (0.75) and [0, 4] is
    # suppressed by [0, 3] (overlap 0.75), then [1, 2] (0.25).
    prob = _map_with({(3, 3): 0.9, (0, 2): 0.8, (0, 3): 0.7, (1, 1): 0.6})
    res = evaluate_moments(prob, 4.0, [[0.0, 4.0]], 4, 0.45)
    assert res["mIoU"] == 0.25  # not the best (0.75) nor a mean of the top 3
    assert res["R1@0.3"] == 0.0 and res["R5@0.3"] == 1.0 and res["R5@0.5"] == 1.0
    assert res["R5@0.7"] == 1.0  # 0.75 > 0.7
    moments = top_moments(prob, 4.0, 4, 0.45, top_k=5)[0]
    np.testing.assert_array_equal(moments[:3], [[3, 4, np.float32(0.9)], [0, 3, np.float32(0.8)],
                                                [1, 2, np.float32(0.6)]])
    assert moments.shape[1] == 3 and len(moments) == 5


def test_metric_keys_follow_the_config_names_and_values_are_fractions():
    cfg = preset("tacos")
    rng = np.random.default_rng(2)
    n = 8
    prob = rng.random((5, n, n)).astype(np.float32)
    gt = np.sort(rng.uniform(0, 20, (5, 2)), axis=1)
    res = evaluate_moments(prob, 20.0, gt, n, 0.4, cfg.eval.recall, cfg.eval.iou_thresholds)
    assert list(res) == metric_names(cfg)
    assert all(0.0 <= v <= 1.0 for v in res.values())
    assert all(round(v * 5) == pytest.approx(v * 5) for k, v in res.items() if k != "mIoU")


def test_streaming_evaluator_equals_one_shot():
    cfg = preset("charades_i3d")
    rng = np.random.default_rng(3)
    mask = valid_mask(N, SCALES)
    logits = (rng.uniform(-6, -0.5, (11, N, N)) * mask).astype(np.float32)
    durations = rng.uniform(10, 40, 11)
    gt = np.sort(rng.uniform(0, 1, (11, 2)), axis=1) * durations[:, None]
    one_shot = evaluate_moments(logits, durations, gt, N, 0.45, from_logits=True,
                                num_scale_layers=SCALES)
    evaluator = MomentEvaluator.for_config(cfg)
    for lo, hi in [(0, 4), (4, 5), (5, 11)]:
        batch_moments = evaluator.update(logits[lo:hi, ..., None], durations[lo:hi], gt[lo:hi])
        assert len(batch_moments) == hi - lo
    assert evaluator.num_queries == 11
    assert evaluator.result() == one_shot
    # Probabilities in, the same numbers out.
    probs = MomentEvaluator(N, 0.45, from_logits=False)
    probs.update(joint_probabilities(logits, SCALES), durations, gt)
    assert probs.result() == one_shot
    # The mask matters: without it the invalid cells (sigmoid(0) = 0.5) would outrank every
    # valid one (all below 0.5 here).
    unmasked = evaluate_moments(1 / (1 + np.exp(-logits)), durations, gt, N, 0.45)
    assert unmasked != one_shot
    evaluator.reset()
    with pytest.raises(ValueError, match="no queries"):
        evaluator.result()


def test_evaluator_requires_the_mask_for_logits():
    with pytest.raises(ValueError, match="num_scale_layers"):
        MomentEvaluator(N, 0.45)
    with pytest.raises(ValueError, match="num_scale_layers"):
        evaluate_moments(np.zeros((1, N, N)), 30.0, [[0.0, 1.0]], N, 0.45, from_logits=True)
    with pytest.raises(ValueError, match=r"gt_times have shape \(2,\)"):
        evaluate_moments(np.zeros((1, N, N)), 30.0, [0.0, 1.0], N, 0.45)


def test_format_table():
    results = {"R1@0.3": 0.5591, "R1@0.5": 0.41325, "R5@0.3": 0.8655, "R5@0.5": 0.7237,
               "mIoU": 0.39817, "loss": 0.6856}
    table = format_table(results, "test")
    lines = table.splitlines()
    assert lines[0] == "test (%)"
    assert lines[1].split() == ["IoU=0.3", "IoU=0.5"]
    assert lines[2].split() == ["R@1", "55.91", "41.33"]
    assert lines[3].split() == ["R@5", "86.55", "72.37"]
    assert lines[4].split() == ["mIoU", "39.82"]
    assert lines[5] == "loss: 0.6856"

