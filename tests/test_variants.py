"""Every ablation variant of the paper (Tables 3-4, Figs. 4-5) builds, trains a step with
every weight in use, saves and reloads; the default config is MGPN."""

import numpy as np
import pytest

from conftest import tiny_config


def _base():
    return tiny_config(gru_layers=1)


def _variants():
    from mgpn_keras.tuning.variants import paper_variants

    return paper_variants(_base())


def _batch(m, seed=0):
    rng = np.random.default_rng(seed)
    mask = np.array([[1] * 6, [1] * 4 + [0] * 2], np.float32)
    words = rng.normal(size=(2, 6, m.word_dim)).astype(np.float32) * mask[..., None]
    x = {"word_vectors": words, "query_mask": mask,
         "clip_features": rng.random((2, m.num_sample_clips, m.input_size)).astype(np.float32)}
    y = np.triu(rng.random((2, m.num_clips, m.num_clips))).astype(np.float32)
    return x, y


# Weights that a variant leaves without a consumer: with the conditioned interaction off,
# nothing reads the co-attention's query output, whose video summary these score.
UNUSED_WITHOUT_CONDITIONED = {"co_attention/video_score/kernel", "co_attention/video_score/bias"}


@pytest.mark.parametrize("key", [v.key for v in _variants()])
def test_variant_builds_trains_a_step_saves_and_reloads(key, tmp_path):
    import keras
    import tensorflow as tf

    from mgpn_keras.model import build_mgpn
    from mgpn_keras.training.trainer import compile_model
    from mgpn_keras.tuning.variants import variant_by_key

    cfg = variant_by_key(_base(), key).config(_base())
    keras.utils.set_random_seed(0)
    model = compile_model(build_mgpn(cfg), cfg)
    x, y = _batch(cfg.model)
    with tf.GradientTape() as tape:
        loss = model.loss(y, model(x, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    unused = {v.path for v, g in zip(model.trainable_variables, grads) if g is None}
    expected = set() if cfg.model.use_conditioned_interaction else UNUSED_WITHOUT_CONDITIONED
    assert unused == expected, f"{key}: weights without a gradient {sorted(unused)}"
    before = [np.array(v) for v in model.trainable_variables]
    model.optimizer.apply([g if g is not None else tf.zeros_like(v)
                           for g, v in zip(grads, model.trainable_variables)], model.trainable_variables)
    assert np.isfinite(float(loss))
    moved = [not np.array_equal(b, np.array(v)) for b, v in zip(before, model.trainable_variables)]
    # Some gradients are 0 by construction (softmax-score biases, conv biases before
    # BatchNorm, a non-local block's branch behind its zero-initialised BatchNorm scale);
    # every weight with a gradient moves.
    live = [g is not None and float(tf.reduce_max(tf.abs(g))) > 1e-7 for g in grads]
    assert all(m for m, alive in zip(moved, live) if alive)
    assert sum(live) > len(live) // 2

    path = tmp_path / f"{key}.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    out = np.asarray(model(x, training=False))
    np.testing.assert_allclose(np.asarray(reloaded(x, training=False)), out, atol=1e-6, rtol=0)
    assert out.shape == (2, cfg.model.num_clips, cfg.model.num_clips)


def test_variants_are_distinct_models():
    from mgpn_keras.model import build_mgpn, count_trainable_parameters

    base = _base()
    counts = {v.key: count_trainable_parameters(build_mgpn(v.config(base))) for v in _variants()
              if v.group in ("Table 3", "Table 4", "Fig. 5")}
    # Every component, encoder, comparison module and size gives another network.
    assert len(set(counts.values())) == len(counts), counts
    assert counts["model1"] < counts["model2"] < counts["model3"] < counts["mgpn"]
    assert counts["model1"] < counts["model4"] < counts["mgpn"]
    assert counts["hidden_half"] < counts["mgpn"] < counts["hidden_double"]


def test_table3_model2_feeds_the_moment_map_with_fine_grained_video():
    from mgpn_keras.model import mgpn_graph
    from mgpn_keras.tuning.variants import variant_by_key

    base = _base()
    _, t2 = mgpn_graph(variant_by_key(base, "model2").config(base))
    assert t2["moment_map_input"] is t2["vis_finegrained"] is not t2["vis_fused"]
    _, t1 = mgpn_graph(variant_by_key(base, "model1").config(base))
    assert t1["moment_map_input"] is t1["vis_fused"] is t1["vis_finegrained"]
    _, t5 = mgpn_graph(base)  # MGPN: the map is built from the co-attended video
    assert t5["moment_map_input"] is t5["vis_fused"] and t5["vis_finegrained"] is not t5["vis_fused"]


@pytest.mark.parametrize("kind", ["content", "boundary"])
def test_single_candidate_feature_stands_in_for_the_other(kind):
    from mgpn_keras.model import mgpn_graph

    _, t = mgpn_graph(tiny_config(candidate_features=kind))
    assert t["boundary_map"] is t["content_map"]
    _, both = mgpn_graph(tiny_config())
    assert both["boundary_map"] is not both["content_map"]


def test_default_config_is_mgpn():
    from mgpn_keras.config import ModelConfig
    from mgpn_keras.layers.group_conv_comparison import GroupConvComparison
    from mgpn_keras.model import build_mgpn
    from mgpn_keras.tuning.variants import variant_by_key

    m = ModelConfig()
    assert (m.coarse_encoder, m.candidate_features, m.comparison) == ("gru", "both", "group_conv")
    assert m.use_fine_grained and m.use_conditioned_interaction and m.use_choice_comparison
    assert variant_by_key(_base(), "mgpn").overrides == {}
    model = build_mgpn(_base())
    assert isinstance(model.get_layer("comparison"), GroupConvComparison)
    names = {layer.name for layer in model.layers}
    assert {"fine_video_encoder", "fine_query_encoder", "conditioned_gate"} <= names


def test_hidden_variants_follow_the_base_size():
    from mgpn_keras.config import preset
    from mgpn_keras.tuning.variants import variant_by_key

    base = preset("charades_i3d")
    assert variant_by_key(base, "hidden_half").config(base).model.hidden_size == 128
    assert variant_by_key(base, "hidden_double").config(base).model.hidden_size == 512
    with pytest.raises(ValueError, match="unknown variant 'gat'"):
        variant_by_key(base, "gat")


@pytest.mark.parametrize("override, words", [
    ({"model.coarse_encoder": "transformer", "model.hidden_size": 18, "model.groups": 2},
     ["model.hidden_size", "18", "transformer"]),
    ({"model.stacked_conv_kernel": 4}, ["model.stacked_conv_kernel", "4", "odd"]),
    ({"model.non_local_blocks": 0}, ["model.non_local_blocks", "0", "positive"]),
])
def test_variant_settings_are_validated(override, words):
    from mgpn_keras.config import apply_overrides

    with pytest.raises(ValueError) as info:
        apply_overrides(_base(), override)
    for word in words:
        assert word in str(info.value)
