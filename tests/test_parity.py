"""The Keras model equals the authors' PyTorch code on the parity fixtures (REFERENCE.md 4)."""

import json

import numpy as np
import pytest

from conftest import require_fixtures

STAGES = ("vis_encoded", "txt_encoded", "vis_fused", "txt_fused", "boundary_map", "content_map",
          "vis_finegrained", "txt_finegrained", "fused_map", "relation_map", "score_map")


def _load(name):
    d = require_fixtures()
    flat = json.loads((d / f"{name}_config.json").read_text())
    io = np.load(d / f"{name}_io.npz", allow_pickle=False)
    return flat, str(d / f"{name}_weights.npz"), {k: io[k] for k in io.files}


@pytest.fixture(scope="module", params=["small", "small_gain"])
def fixture_run(request):
    from mgpn_keras.convert import reference_forward

    flat, weights, io = _load(request.param)
    out = reference_forward(flat, weights, io)
    return request.param, flat, io, out


def test_every_stage_matches_within_1e_5(fixture_run):
    name, _, io, out = fixture_run
    for stage in STAGES:
        assert out[stage].shape == io[stage].shape, stage
        err = float(np.abs(out[stage] - io[stage]).max())
        assert err <= 1e-5, f"{name}: {stage} differs by {err}"
    np.testing.assert_array_equal(out["map_mask"], io["map_mask"])


def test_loss_matches_within_1e_6(fixture_run):
    from mgpn_keras.config import preset  # noqa: F401
    from mgpn_keras.convert import config_from_reference
    from mgpn_keras.losses import ScaledIoUBCE

    name, flat, io, out = fixture_run
    cfg = config_from_reference(flat)
    loss = ScaledIoUBCE(cfg.model.num_clips, cfg.model.num_scale_layers, cfg.loss.min_iou, cfg.loss.max_iou)
    value = float(loss(io["map_gt"][:, 0], out["score_map"][:, 0]))
    assert abs(value - float(io["loss"])) <= 1e-6, (name, value, float(io["loss"]))


def test_proposals_match_reference_pipeline(fixture_run):
    from mgpn_keras.metrics import iou, nms, sorted_proposals

    name, flat, io, out = fixture_run
    mask = io["map_mask"][:, 0].astype(np.float32)
    joint = 1.0 / (1.0 + np.exp(-out["score_map"][:, 0].astype(np.float64)))
    joint = (joint * mask).astype(np.float32)
    times, _ = sorted_proposals(joint, np.full(3, float(io["duration"])), 32)
    np.testing.assert_allclose(times[:, :20], io["sorted_times_top20"], atol=1e-9)
    for q in range(3):
        kept = nms(times[q], 0.45, 5)
        np.testing.assert_allclose(kept, io["nms_top5_times"][q], atol=1e-9)
        np.testing.assert_allclose(iou(kept, io["gt_times"][q]), io["nms_top5_iou"][q], atol=1e-9)


def test_config_from_reference_reads_fixture():
    from mgpn_keras.convert import config_from_reference

    flat, _, _ = _load("small")
    cfg = config_from_reference(flat)
    m = cfg.model
    assert (m.input_size, m.hidden_size, m.num_clips, m.pool_stride, m.gru_layers) == (1024, 64, 32, 8, 2)
    assert m.num_scale_layers == [15, 8] and not m.use_position
    assert cfg.eval.nms_threshold == 0.45 and cfg.train.lr_decay_epochs == [7, 12]
