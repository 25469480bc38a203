"""The functional model: shapes, padding invariance, saving, XLA, parameter counts."""

import numpy as np
import pytest

from conftest import tiny_config


def _inputs(cfg, lengths, seed=0, max_len=None):
    rng = np.random.default_rng(seed)
    m = cfg.model
    max_len = max_len or max(lengths)
    words = np.zeros((len(lengths), max_len, m.word_dim), np.float32)
    mask = np.zeros((len(lengths), max_len), np.float32)
    for b, n in enumerate(lengths):
        words[b, :n] = rng.normal(size=(n, m.word_dim))
        mask[b, :n] = 1.0
    clips = rng.random((len(lengths), m.num_sample_clips, m.input_size)).astype(np.float32)
    return {"word_vectors": words, "query_mask": mask, "clip_features": clips}


@pytest.fixture(scope="module")
def tiny_model():
    import keras

    from mgpn_keras.model import build_mgpn

    keras.utils.set_random_seed(1)
    cfg = tiny_config()
    return cfg, build_mgpn(cfg)


def test_output_shape_and_invalid_cells_are_zero(tiny_model):
    from mgpn_keras.model import valid_cell_mask

    cfg, model = tiny_model
    scores = np.asarray(model(_inputs(cfg, [5, 3]), training=False))
    n = cfg.model.num_clips
    assert scores.shape == (2, n, n)
    mask = valid_cell_mask(cfg)
    assert np.all(scores[:, mask == 0] == 0.0)
    assert np.all(scores[:, mask == 1] != 0.0)


def test_padding_does_not_change_a_querys_scores(tiny_model):
    cfg, model = tiny_model
    alone = _inputs(cfg, [5], seed=3)
    padded = _inputs(cfg, [5, 9], seed=4)
    for key in alone:  # same query and video in row 0, padded to 9 tokens
        padded[key][0, : alone[key].shape[1]] = alone[key][0]
    a = np.asarray(model(alone, training=False))[0]
    b = np.asarray(model(padded, training=False))[0]
    np.testing.assert_allclose(a, b, atol=1e-5, rtol=0)
    # The check is meaningful: another query does move the scores well above 1e-5.
    other = dict(alone, word_vectors=alone["word_vectors"][:, ::-1].copy())
    c = np.asarray(model(other, training=False))[0]
    assert np.abs(a - c).max() > 1e-4


def test_keras_file_round_trip_gives_same_outputs(tiny_model, tmp_path):
    from layer_test_case import run_model_saving_test

    cfg, model = tiny_model
    run_model_saving_test(model, _inputs(cfg, [4, 6], seed=5), tmp_path / "model.keras")


def test_jit_compile_gives_same_outputs(tiny_model):
    import tensorflow as tf

    cfg, model = tiny_model
    x = _inputs(cfg, [4, 6], seed=6)
    compiled = tf.function(lambda inputs: model(inputs, training=False), jit_compile=True)
    np.testing.assert_allclose(np.asarray(compiled(x)), np.asarray(model(x, training=False)),
                               atol=1e-5, rtol=0)


@pytest.mark.parametrize("name,expected", [("charades_i3d", 3_668_739), ("tacos", 5_048_067),
                                           ("activitynet", 3_550_979)])
def test_trainable_parameters_equal_reference(name, expected):
    from mgpn_keras.config import preset
    from mgpn_keras.model import build_mgpn, count_trainable_parameters

    assert count_trainable_parameters(build_mgpn(preset(name))) == expected


def test_reference_initialisation_bounds(tiny_model):
    cfg, model = tiny_model
    proj = model.get_layer("clip_encoder").projection
    bound = 1.0 / np.sqrt(cfg.model.input_size)
    kernel = np.asarray(proj.kernel)
    assert np.abs(kernel).max() <= bound and np.abs(kernel).max() > 0.8 * bound
    gru = model.get_layer("query_encoder").layers_[0].forward_layer.cell
    units = cfg.model.hidden_size // 2
    assert np.abs(np.asarray(gru.recurrent_kernel)).max() <= 1 / np.sqrt(units)



def test_evaluation_traces_a_model_once_reads_its_current_weights_and_keeps_it_not_alive():
    import gc
    import weakref

    from mgpn_keras.evaluation.model_evaluation import inference_function
    from mgpn_keras.model import build_mgpn, score_output

    cfg = tiny_config()
    model = build_mgpn(cfg)
    infer = inference_function(model)
    assert inference_function(model) is infer  # every epoch's evaluation reuses one trace
    rng = np.random.default_rng(0)
    x = {"clip_features": rng.normal(size=(2, cfg.model.num_sample_clips, cfg.model.input_size)).astype(np.float32),
         "word_vectors": rng.normal(size=(2, 5, cfg.model.word_dim)).astype(np.float32),
         "query_mask": np.ones((2, 5), np.float32)}
    before = infer(x).numpy()
    for w in model.trainable_weights:
        w.assign(w * 0.5)
    after = infer(x).numpy()
    assert not np.array_equal(before, after)
    eager = score_output(model(x, training=False))
    np.testing.assert_allclose(after, np.asarray(eager), rtol=1e-5, atol=1e-6)
    alive = weakref.ref(model)
    del model, infer
    gc.collect()
    assert alive() is None  # model and function keep each other only

    # A caller may keep the function alone (Beam's evaluation keeps only the twin's function).
    alone = inference_function(build_mgpn(cfg))
    gc.collect()
    assert alone(x).shape == after.shape
