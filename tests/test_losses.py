"""Scaled-IoU BCE (mgpn_keras.losses) and the IoU target (mgpn_keras.protocol.iou_map)."""

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from mgpn_keras.config import preset
from mgpn_keras.losses import ScaledIoUBCE, scaled_iou_bce
from mgpn_keras.protocol.iou_map import iou_map
from mgpn_keras.valid_cells.geometry import valid_mask


def iou_map_numpy(times, duration, num_clips):
    """The protocol's IoU map (TensorFlow) as a NumPy array."""
    return iou_map(np.asarray(times, np.float32), np.asarray(duration, np.float32),
                   num_clips).numpy()

from conftest import load_fixture_io  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
FIXTURE_LOSS = {"small": 0.685611069, "small_gain": 0.633854449}  # REFERENCE.md 4
N, SCALES = 32, [15, 8]


def load_fixture(name):
    return load_fixture_io(name)


def reference_loss(scores, iou_map, mask, min_iou, max_iou):
    """The reference's formula in float64 NumPy: masked_select, then mean BCE-with-logits."""
    x = np.asarray(scores, np.float64)[np.broadcast_to(mask, np.shape(scores)) > 0]
    t = np.clip((np.asarray(iou_map, np.float64) - min_iou) / (max_iou - min_iou), 0, 1)
    z = t[np.broadcast_to(mask, np.shape(scores)) > 0]
    return float(np.mean(np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x)))))


# ----------------------------------------------------------------------------- target
@pytest.mark.parametrize("name", ["small", "small_gain"])
def test_iou_map_matches_fixture(name):
    fx = load_fixture(name)
    target = iou_map_numpy(fx["gt_times"], fx["duration"], N)
    assert target.shape == (3, N, N) and target.dtype == np.float32
    # Bit-exact (the arithmetic is the reference's, float32 where it is float32).
    np.testing.assert_array_equal(target, fx["map_gt"][:, 0])
    # One query at a time gives the same map.
    for q in range(3):
        np.testing.assert_array_equal(iou_map_numpy(fx["gt_times"][q], 30.0, N), target[q])
    # And the rescaled target equals the reference's target_prob.
    scaled = np.clip((target - np.float32(0.5)) / np.float32(0.5), 0, 1)
    np.testing.assert_array_equal(scaled, fx["target_prob"][:, 0])


def test_iou_map_hand_values():
    # 8 clips over 8 s: cell (i, j) is [i, j + 1] s; GT [2, 4].
    target = iou_map_numpy([2.0, 4.0], 8.0, 8)
    assert target[2, 3] == 1.0
    assert target[2, 2] == 0.5  # [2, 3]
    assert target[0, 3] == 0.5  # [0, 4]
    assert target[1, 4] == pytest.approx(2 / 4)  # [1, 5]
    assert target[5, 7] == 0.0  # disjoint
    assert target[4, 7] == 0.0  # touching at 4 s
    assert np.all(target[np.tril_indices(8, -1)] == 0)
    with pytest.raises(ValueError, match="duration has shape"):
        iou_map_numpy([[0.0, 1.0]], [8.0, 9.0], 8)


def _iou_map_by_hand(gt, duration, num_clips, float32_times):
    if float32_times:  # the reference: float32 cell times i * float32(d) / N, float32 GT
        d32, n32 = np.float32(duration), np.float32(num_clips)
        starts = (np.arange(num_clips, dtype=np.float32) * d32 / n32).astype(np.float64)
        ends = (np.arange(1, num_clips + 1, dtype=np.float32) * d32 / n32).astype(np.float64)
        g0, g1 = (float(np.float32(g)) for g in gt)
    else:
        starts = np.arange(num_clips) * duration / num_clips
        ends = np.arange(1, num_clips + 1) * duration / num_clips
        g0, g1 = gt
    out = np.zeros((num_clips, num_clips), np.float32)
    for i in range(num_clips):
        for j in range(i, num_clips):
            inter = max(0.0, min(ends[j], g1) - max(starts[i], g0))
            hull = max(ends[j], g1) - min(starts[i], g0)
            out[i, j] = inter / hull
    return out


@pytest.mark.parametrize("gt,duration", [([3.3, 11.71], 30.47), ([14.1, 29.3], 30.0),
                                         ([1.1, 7.3], 23.33)])
def test_iou_map_uses_float32_cell_times(gt, duration):
    # duration / N and the GT are not exact in binary: the reference computes cell times in
    # float32 and rounds the GT to float32, then takes the IoU in float64 (REFERENCE.md 5.7).
    target = iou_map_numpy(gt, duration, N)
    np.testing.assert_array_equal(target, _iou_map_by_hand(gt, duration, N, True))
    # The float32 rounding is visible in the float32 result (so the check above has teeth).
    assert np.any(target != _iou_map_by_hand(gt, duration, N, False))


# ----------------------------------------------------------------------------- loss
@pytest.mark.parametrize("name", ["small", "small_gain"])
def test_loss_matches_fixture(name):
    fx = load_fixture(name)
    scores, target = fx["score_map"][:, 0], fx["map_gt"][:, 0]
    assert float(fx["loss"]) == pytest.approx(FIXTURE_LOSS[name], abs=1e-9)
    loss = ScaledIoUBCE(N, SCALES, 0.5, 1.0)
    assert abs(float(loss(target, scores)) - FIXTURE_LOSS[name]) <= 1e-6
    # Channels-last (B, N, N, 1) inputs give the same.
    assert abs(float(loss(target[..., None], scores[..., None])) - FIXTURE_LOSS[name]) <= 1e-6
    plain = scaled_iou_bce(scores, target, fx["map_mask"][:, 0], 0.5, 1.0)
    assert abs(float(plain) - FIXTURE_LOSS[name]) <= 1e-6
    # The target computed here gives the same loss as the fixture's map_gt.
    ours = iou_map_numpy(fx["gt_times"], fx["duration"], N)
    assert abs(float(loss(ours, scores)) - FIXTURE_LOSS[name]) <= 1e-6


@pytest.mark.parametrize("min_iou,max_iou", [(0.5, 1.0), (0.3, 0.7)])
def test_loss_is_the_mean_over_valid_cells_of_all_queries(min_iou, max_iou):
    rng = np.random.default_rng(0)
    mask = valid_mask(N, SCALES)
    scores = (rng.normal(0, 3, (4, N, N)) * mask).astype(np.float32)
    gt = np.sort(rng.uniform(0, 30, (4, 2)), axis=1)
    target = iou_map_numpy(gt, 30.0, N)
    expect = reference_loss(scores, target, mask, min_iou, max_iou)
    loss = ScaledIoUBCE(N, SCALES, min_iou, max_iou)
    assert float(loss(target, scores)) == pytest.approx(expect, abs=1e-6)
    assert float(scaled_iou_bce(scores, target, mask, min_iou, max_iou)) == pytest.approx(
        expect, abs=1e-6)
    # Per query (reduction None): each query's own mean over its valid cells.
    per_query = ScaledIoUBCE(N, SCALES, min_iou, max_iou, reduction=None)(target, scores)
    assert per_query.shape == (4,)
    for q in range(4):
        assert float(per_query[q]) == pytest.approx(
            reference_loss(scores[q], target[q], mask, min_iou, max_iou), abs=1e-6)


def test_loss_ignores_invalid_cells():
    rng = np.random.default_rng(1)
    mask = valid_mask(N, SCALES)
    scores = (rng.normal(0, 1, (2, N, N)) * mask).astype(np.float32)
    target = iou_map_numpy([[1.0, 9.0], [5.0, 25.0]], 30.0, N)
    loss = ScaledIoUBCE(N, SCALES)
    clean = float(loss(target, scores))
    noisy_scores = np.where(mask > 0, scores, np.float32(50.0))
    noisy_target = np.where(mask > 0, target, np.float32(0.0))
    assert float(loss(noisy_target, noisy_scores)) == clean
    assert float(scaled_iou_bce(noisy_scores, noisy_target, mask, 0.5, 1.0)) == pytest.approx(
        clean, abs=1e-7)
    # The mean divides by the 428 valid cells, not by N * N: zero logits give BCE = log 2 on
    # every valid cell whatever the target, so the loss is log 2 (428/1024 of it otherwise).
    zero = float(loss(np.zeros((1, N, N), np.float32), np.zeros((1, N, N), np.float32)))
    assert zero == pytest.approx(np.log(2.0), abs=1e-6)  # float32 sum of 428 terms
    assert int(mask.sum()) == 428


def test_loss_rescales_and_clips_the_target():
    # The same logit (2) and IoU on every valid cell, so the loss is that cell's
    # BCE(x, z) = softplus(x) - x z with z = clip((iou - min) / (max - min), 0, 1).
    mask = valid_mask(N, SCALES)
    scores = (2.0 * mask)[None].astype(np.float32)
    softplus2 = np.log1p(np.exp(2.0))
    for (lo, hi), value, z in [((0.5, 1.0), 0.75, 0.5), ((0.5, 1.0), 0.2, 0.0),
                               ((0.5, 1.0), 1.0, 1.0), ((0.3, 0.7), 0.5, 0.5),
                               ((0.3, 0.7), 0.9, 1.0), ((0.3, 0.7), 0.4, 0.25)]:
        iou_map = np.full((1, N, N), value, np.float32)
        got = float(ScaledIoUBCE(N, SCALES, lo, hi)(iou_map, scores))
        assert got == pytest.approx(softplus2 - 2.0 * z, abs=1e-6), (lo, hi, value)
        plain = float(scaled_iou_bce(scores, iou_map, mask, lo, hi))
        assert plain == pytest.approx(softplus2 - 2.0 * z, abs=1e-6), (lo, hi, value)


def test_loss_serialization_and_config():
    from layer_test_case import assert_config_round_trip

    cfg = preset("tacos")
    loss = ScaledIoUBCE.for_config(cfg)
    config = loss.get_config()
    assert config == {"name": "scaled_iou_bce", "reduction": "sum_over_batch_size",
                      "num_clips": 128, "num_scale_layers": [15, 8, 8, 8],
                      "min_iou": 0.3, "max_iou": 0.7}
    again = assert_config_round_trip(loss)
    rng = np.random.default_rng(2)
    scores = (rng.normal(0, 1, (2, 128, 128)) * valid_mask(128, [15, 8, 8, 8])).astype(np.float32)
    target = iou_map_numpy([[3.0, 40.0], [100.0, 180.0]], 200.0, 128)
    assert float(again(target, scores)) == float(loss(target, scores))
    with pytest.raises(ValueError, match="min_iou"):
        ScaledIoUBCE(N, SCALES, 0.7, 0.3)
    with pytest.raises(ValueError, match=r"expected \(batch, 32, 32\)"):
        ScaledIoUBCE(N, SCALES)(np.zeros((1, 16, 16)), np.zeros((1, 16, 16)))


def test_loss_in_a_graph_with_unknown_shapes_and_in_fit():
    loss = ScaledIoUBCE(N, SCALES)
    rng = np.random.default_rng(3)
    scores = (rng.normal(0, 1, (3, N, N)) * valid_mask(N, SCALES)).astype(np.float32)
    target = iou_map_numpy(np.sort(rng.uniform(0, 30, (3, 2)), axis=1), 30.0, N)
    spec = tf.TensorSpec([None, None, None], tf.float32)
    graph = tf.function(lambda t, s: loss(t, s), input_signature=[spec, spec])
    assert float(graph(target, scores)) == pytest.approx(float(loss(target, scores)), abs=1e-7)
    # As a compiled loss: one step of a linear map from inputs to logits trains.
    inputs = keras.Input((N, N))
    model = keras.Model(inputs, keras.layers.Dense(N)(inputs))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss)
    history = model.fit(scores, target, epochs=2, batch_size=3, verbose=0)
    first, second = history.history["loss"]
    assert np.isfinite(first) and second < first
