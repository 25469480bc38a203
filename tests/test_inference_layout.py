"""Users get the inference layout with the dense model's answers: `evaluate_model` (hence
`mgpn evaluate` and the epoch callback) and the exported SavedModel, on every preset's geometry,
with random weights and random BatchNorm statistics."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from conftest import randomise_batch_norm

pytestmark = pytest.mark.slow  # every preset evaluated and exported in both layouts

GEOMETRIES = ("charades_i3d", "charades_vgg", "activitynet", "tacos")
SMALL = dict(hidden_size=32, groups=8, input_size=16, word_dim=12)
WORDS = ["a", "person", "opens", "the", "door", "walks", "to", "window", "sits", "down"]
QUERIES = ["a person opens the door", "the person walks to the window", "sits down"]


def _live_model(cfg, seed):
    """A dense model with random BatchNorm statistics whose logits spread over +-3, so that
    rankings do not hinge on float rounding."""
    import keras

    from mgpn_keras.model import build_mgpn, valid_cell_mask

    keras.utils.set_random_seed(seed)
    model = build_mgpn(cfg)
    randomise_batch_norm(model.get_layer("comparison").norms, np.random.default_rng(seed))
    x = _features(cfg, 4, seed)
    valid = np.asarray(model(x, training=False))[:, valid_cell_mask(cfg) > 0]
    scale = 1.5 / valid.std()
    score = model.get_layer("ranker").score
    score.kernel.assign(score.kernel * scale)
    score.bias.assign(scale * (score.bias - valid.mean()))
    return model


def _features(cfg, batch, seed):
    m = cfg.model
    rng = np.random.default_rng(seed + 100)
    mask = np.ones((batch, 5), np.float32)
    mask[0, 3:] = 0.0
    return {"word_vectors": rng.normal(size=(batch, 5, m.word_dim)).astype(np.float32) * mask[..., None],
            "query_mask": mask,
            "clip_features": rng.normal(size=(batch, m.num_sample_clips, m.input_size)).astype(np.float32)}


def _dataset(cfg, seed, count=8, batch=4):
    """What `make_dataset(..., with_meta=True)` yields, from random tensors."""
    x = _features(cfg, count, seed)
    rng = np.random.default_rng(seed)
    duration = rng.uniform(20, 60, count).astype(np.float32)
    start = rng.uniform(0, 0.6, count) * duration
    times = np.stack([start, start + rng.uniform(0.1, 0.4, count) * duration], -1).astype(np.float32)
    meta = {"duration": duration, "times": times, "index": np.arange(count, dtype=np.int64),
            "video_id": np.array([f"v{i}" for i in range(count)]),
            "sentence": np.array([f"query {i}" for i in range(count)])}
    target = np.zeros((count, cfg.model.num_clips, cfg.model.num_clips), np.float32)
    return tf.data.Dataset.from_tensor_slices((x, target, meta)).batch(batch)


def _serving_module(model, cfg):
    from mgpn_keras.retrieval.module import MomentRetrievalModule

    vocabulary = ["<pad>", "<unk>"] + WORDS
    vectors = np.random.default_rng(0).normal(size=(len(vocabulary), cfg.model.word_dim)).astype(np.float32)
    vectors[:2] = 0
    return MomentRetrievalModule(model, cfg, vocabulary, vectors), vocabulary, vectors


def _request(cfg, seed=0):
    rng = np.random.default_rng(seed)
    videos = rng.normal(size=(len(QUERIES), 41, cfg.model.input_size)).astype(np.float32)
    return (tf.constant(QUERIES), tf.constant(videos), tf.constant([30.0, 12.5, 47.0], tf.float32))


@pytest.mark.parametrize("name", GEOMETRIES)
def test_evaluation_and_serving_in_valid_cells_give_the_dense_answers(name):
    from mgpn_keras.config import preset
    from mgpn_keras.model import inference_twin, model_layout
    from mgpn_keras.evaluation.model_evaluation import evaluate_model

    cfg = preset(name, model=SMALL)
    model = _live_model(cfg, seed=GEOMETRIES.index(name))
    fast_model = inference_twin(model, cfg, "valid_cells")
    assert model_layout(fast_model) == "valid_cells"
    dense, dense_moments = evaluate_model(model, _dataset(cfg, 1), cfg, layout="dense",
                                          return_predictions=True)
    fast, fast_moments = evaluate_model(fast_model, _dataset(cfg, 1), cfg, layout="valid_cells",
                                        return_predictions=True)
    assert fast == dense
    # Top moments that differ between queries: an equality that could have failed.
    assert len({tuple(p["moments"][0][:2]) for p in dense_moments}) > 1
    for a, b in zip(dense_moments, fast_moments):
        got, want = np.asarray(b["moments"]), np.asarray(a["moments"])
        np.testing.assert_array_equal(got[:, :2], want[:, :2])  # identical proposals
        np.testing.assert_allclose(got[:, 2], want[:, 2], atol=1e-5, rtol=0)
    # The serving module (what `mgpn export` saves): the same moments.
    request = _request(cfg)
    want = {k: v.numpy() for k, v in _serving_module(model, cfg)[0].serve(*request).items()}
    got = {k: v.numpy() for k, v in _serving_module(fast_model, cfg)[0].serve(*request).items()}
    np.testing.assert_array_equal(got["start"], want["start"])
    np.testing.assert_array_equal(got["end"], want["end"])
    np.testing.assert_allclose(got["score"], want["score"], atol=1e-5, rtol=0)
    assert np.ptp(want["start"]) > 0  # moments that differ between queries / ranks


RELOAD = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tensorflow as tf
    import tensorflow_text  # noqa: F401
    assert not any(m.startswith("mgpn_keras") for m in sys.modules), "tensorflow only"
    args = json.loads(sys.argv[1])
    out = {}
    for path in args["exports"]:
        serve = tf.saved_model.load(path).signatures["serving_default"]
        videos = np.load(args["videos"])
        r = serve(query=tf.constant(args["queries"]), video_features=tf.constant(videos),
                  duration=tf.constant(args["durations"], tf.float32))
        out[path] = {k: v.numpy().tolist() for k, v in r.items()}
        out[path]["dtype"] = r["score"].dtype.name
    print("RESULT " + json.dumps(out))
""")


@pytest.mark.slow
def test_exported_valid_cell_and_bfloat16_graphs_reloaded_in_a_fresh_process(tmp_path):
    """TACoS's geometry, where "auto" exports the valid-cell layout: moments equal the dense
    model's; --precision mixed_bfloat16 is recorded and leaves the global policy alone."""
    import keras

    from mgpn_keras.config import preset
    from mgpn_keras.serving.export import export_saved_model

    cfg = preset("tacos", model=SMALL)
    model = _live_model(cfg, seed=21)
    module, vocabulary, vectors = _serving_module(model, cfg)
    request = _request(cfg, seed=2)
    want = {k: v.numpy() for k, v in module.serve(*request).items()}
    fast = export_saved_model(model, cfg, vocabulary, vectors, tmp_path / "f32" / "1")
    half = export_saved_model(model, cfg, vocabulary, vectors, tmp_path / "bf16" / "1",
                              precision="mixed_bfloat16")
    assert keras.mixed_precision.global_policy().name == "float32"
    info = json.loads((fast / "mgpn_export.json").read_text())
    assert (info["layout"], info["precision"]) == ("valid_cells", "float32")
    assert {"preset", "top_k", "nms_threshold", "num_clips", "signatures"} <= set(info)
    half_info = json.loads((half / "mgpn_export.json").read_text())
    assert (half_info["layout"], half_info["precision"]) == ("valid_cells", "mixed_bfloat16")
    np.save(tmp_path / "videos.npy", request[1].numpy())
    args = {"exports": [str(fast), str(half)], "videos": str(tmp_path / "videos.npy"),
            "queries": QUERIES, "durations": request[2].numpy().tolist()}
    proc = subprocess.run([sys.executable, "-c", RELOAD, json.dumps(args)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(next(line for line in proc.stdout.splitlines() if line.startswith("RESULT "))[7:])
    got = out[str(fast)]
    np.testing.assert_array_equal(np.asarray(got["start"], np.float32), want["start"])
    np.testing.assert_array_equal(np.asarray(got["end"], np.float32), want["end"])
    np.testing.assert_allclose(np.asarray(got["score"]), want["score"], atol=1e-5, rtol=0)
    assert out[str(half)]["dtype"] == "float32"
    assert np.isfinite(np.asarray(out[str(half)]["score"])).all()
