"""Mixed precision, in the manner of keras-hub's `run_precision_test`: every sublayer takes its
parent's dtype policy, the ranker (and so the logits) stays float32, and bfloat16 does not tie
a query's candidates."""

import numpy as np
import pytest

from conftest import tiny_config

FLOAT32_LAYERS = ("ranker",)  # kept float32 on purpose, with everything inside them


def _inputs(m, batch=2, tokens=6, seed=0):
    rng = np.random.default_rng(seed)
    mask = np.ones((batch, tokens), np.float32)
    mask[-1, tokens - 2:] = 0.0
    words = rng.normal(size=(batch, tokens, m.word_dim)).astype(np.float32) * mask[..., None]
    clips = rng.normal(size=(batch, m.num_sample_clips, m.input_size)).astype(np.float32)
    return {"word_vectors": words, "query_mask": mask, "clip_features": clips}


def run_precision_test(build, inputs, policies=("mixed_float16", "mixed_bfloat16")):
    """Build a model under each policy (passed as `dtype`, the global policy untouched) and
    check every sublayer's compute and variable dtypes, the weights' dtypes and the output's.

    Args:
        build: `dtype -> keras.Model`.
        inputs: what the model is called on.
    """
    import keras

    global_before = keras.mixed_precision.global_policy().name
    for name in policies:
        policy = keras.dtype_policies.get(name)
        model = build(name)
        assert keras.mixed_precision.global_policy().name == global_before
        output = model(inputs, training=False)
        assert keras.backend.standardize_dtype(output.dtype) == "float32", name
        assert model.output.dtype == "float32", name  # the symbolic output too
        for weight in model.weights:
            if "float" in weight.dtype:
                assert weight.dtype == policy.variable_dtype, (name, weight.path)
        kept = set()
        for top in model.layers:
            if top.name in FLOAT32_LAYERS:
                kept |= {id(s) for s in top._flatten_layers(include_self=True)}
        checked = 0
        for sub in model._flatten_layers(include_self=False):
            if isinstance(sub, keras.layers.InputLayer):
                continue
            expected = "float32" if id(sub) in kept else policy.compute_dtype
            assert sub.compute_dtype == expected, (name, sub.name, sub.compute_dtype)
            assert sub.variable_dtype == policy.variable_dtype, (name, sub.name)
            checked += 1
        assert checked > 30  # the whole tree was walked, GRU cells and Dense sublayers included


@pytest.mark.parametrize("layout", ["dense", "valid_cells"])
def test_every_sublayer_takes_the_policy_and_logits_stay_float32(layout):
    import keras

    from mgpn_keras.model import build_mgpn

    keras.utils.set_random_seed(2)
    cfg = tiny_config()
    run_precision_test(lambda dtype: build_mgpn(cfg, layout=layout, dtype=dtype), _inputs(cfg.model))


def test_global_mixed_policy_reaches_every_sublayer_and_is_left_alone():
    """The failure this guards against: under a global mixed_bfloat16 policy the ranker's inner
    Dense ran in bfloat16 and the logits were bfloat16."""
    import keras

    from mgpn_keras.model import build_mgpn

    cfg = tiny_config()
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = build_mgpn(cfg)
        logits = model(_inputs(cfg.model), training=False)
        assert keras.backend.standardize_dtype(logits.dtype) == "float32"
        assert model.get_layer("ranker").score.compute_dtype == "float32"
        assert model.get_layer("comparison").convs[0].compute_dtype == "bfloat16"
        assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_bfloat16_keeps_as_many_distinct_logits_as_float32(layout="dense"):
    """Charades-STA I3D at hidden size 64 (a bfloat16 ranker once gave 18 distinct logits of 428)."""
    import keras

    from mgpn_keras.config import preset
    from mgpn_keras.model import build_mgpn, copy_weights, valid_cell_mask

    keras.utils.set_random_seed(5)
    cfg = preset("charades_i3d", model=dict(hidden_size=64))
    full = build_mgpn(cfg, layout=layout)
    half = build_mgpn(cfg, layout=layout, dtype="mixed_bfloat16")
    copy_weights(full, half)
    x = _inputs(cfg.model, batch=2, tokens=5, seed=1)
    valid = valid_cell_mask(cfg) > 0
    a = np.asarray(full(x, training=False))[:, valid]
    b = np.asarray(half(x, training=False))[:, valid]
    assert a.shape == (2, 428)
    for q in range(2):
        distinct = len(np.unique(a[q]))
        assert distinct >= 420  # float32 itself may tie a pair by chance
        assert len(np.unique(b[q])) >= distinct, f"query {q}: {len(np.unique(b[q]))} distinct, float32 {distinct}"
    # bfloat16 moves the logits, but not by more than a fraction of their spread.
    assert np.abs(a - b).max() < 0.1 * (a.max() - a.min())
