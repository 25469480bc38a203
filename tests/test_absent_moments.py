"""Training that sees absent moments and retrieval that ranks windows: the negative sampler
(datasets.absent_moments), the window-presence head, the coarse pass (retrieval.coarse_to_fine)
and their config fields."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import tiny_config
from test_long_video import QUERIES, _vocabulary

pytestmark = pytest.mark.slow  # head models exported and windowed


def head_config(**eval_):
    from mgpn_keras.config import apply_overrides

    cfg = tiny_config()
    return apply_overrides(cfg, {"model.window_head": True, "train.absent_share": 0.3,
                                 **{f"eval.{k}": v for k, v in eval_.items()}})


def test_bad_long_video_settings_are_one_line_errors():
    from mgpn_keras.config import apply_overrides

    cfg = tiny_config()
    for key, value, expected in [
            ("train.absent_share", 1.0, "'train.absent_share' = 1.0 is invalid: a share of the "
                                        "batch in [0, 1)"),
            ("train.absent_share", -0.1, "in [0, 1)"),
            ("eval.window_top_m", 0, "'eval.window_top_m' = 0 is invalid: null (every window) "
                                     "or an integer >= 1"),
            ("eval.window_top_m", 4, "null unless model.window_head is true"),
            ("train.window_loss_weight", -1, "a non-negative number")]:
        with pytest.raises(ValueError) as caught:
            apply_overrides(cfg, {key: value})
        assert expected in str(caught.value) and "\n" not in str(caught.value)


def test_window_presence_head_shapes_config_and_mixed_precision():
    from mgpn_keras.layers.window_presence_head import WindowPresenceHead

    rng = np.random.default_rng(0)
    clips = tf.constant(rng.standard_normal((3, 8, 16)), tf.float32)
    tokens = tf.constant(rng.standard_normal((3, 5, 16)), tf.float32)
    mask = tf.constant([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]], tf.float32)
    head = WindowPresenceHead(12, name="h")
    out = head([clips, tokens, mask])
    assert tuple(out.shape) == (3,) and out.dtype == tf.float32
    clone = WindowPresenceHead.from_config(head.get_config())
    assert clone.hidden_size == 12 and clone.name == "h"
    clone([clips, tokens, mask])
    clone.set_weights(head.get_weights())
    np.testing.assert_array_equal(clone([clips, tokens, mask]), out)
    # Padding tokens do not count: changing them changes nothing.
    tokens2 = tf.where(mask[..., None] > 0, tokens, 100.0)
    np.testing.assert_allclose(head([clips, tokens2, mask]), out, rtol=1e-6)
    mixed = WindowPresenceHead(12, dtype="mixed_bfloat16")
    low = mixed([clips, tokens, mask])
    mixed.set_weights(head.get_weights())
    low = mixed([clips, tokens, mask])
    assert low.dtype == tf.float32 and mixed.inner.compute_dtype == "bfloat16"
    np.testing.assert_allclose(low, out, atol=0.1)


def test_model_with_a_head_has_two_outputs_and_saves_as_keras_and_a_preset(tmp_path):
    from mgpn_keras.model import build_mgpn, has_window_head, presence_model, score_output
    from mgpn_keras.runs.presets import from_preset, save_to_preset

    cfg = head_config()
    keras.utils.set_random_seed(1)
    model = build_mgpn(cfg)
    rng = np.random.default_rng(0)
    inputs = {"word_vectors": tf.constant(rng.standard_normal((2, 4, 12)), tf.float32),
              "query_mask": tf.ones([2, 4]),
              "clip_features": tf.constant(rng.standard_normal((2, 32, 24)), tf.float32)}
    out = model(inputs)
    assert tuple(out["score_map"].shape) == (2, 8, 8) and tuple(out["window_presence"].shape) == (2,)
    np.testing.assert_array_equal(score_output(out), out["score_map"])
    np.testing.assert_array_equal(presence_model(model)(inputs), out["window_presence"])
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(again(inputs)["window_presence"], out["window_presence"], atol=1e-6)
    # A preset folder (what a training run writes as RUN/model/) keeps the head and its weights.
    from_folder = from_preset(save_to_preset(model, tmp_path / "preset", cfg))
    assert has_window_head(from_folder)
    reloaded = from_folder(inputs)
    np.testing.assert_allclose(reloaded["window_presence"], out["window_presence"], atol=1e-6)
    np.testing.assert_allclose(reloaded["score_map"], out["score_map"], atol=1e-6)
    plain = build_mgpn(tiny_config())
    assert not has_window_head(plain)
    with pytest.raises(ValueError, match="has no window_presence head"):
        presence_model(plain)


@pytest.fixture(scope="module")
def head_mgpn():
    """A head model (one GRU layer) whose config batches 4 windows a call (7 windows: two
    calls, 4 + 3)."""
    from mgpn_keras.model import build_mgpn

    from mgpn_keras.config import apply_overrides

    cfg = apply_overrides(head_config(window_batch=4), {"model.gru_layers": 1})
    keras.utils.set_random_seed(5)
    return cfg, build_mgpn(cfg)


WINDOWS = dict(window_seconds=30.0, window_overlap_seconds=10.0)


@pytest.fixture(scope="module")
def top_three(head_mgpn):
    """The Python retriever of `head_mgpn` through 3 windows of 7 (traced once: the coarse
    pass test and the export test both run it)."""
    from mgpn_keras.retrieval.retriever import MomentRetriever

    cfg, model = head_mgpn
    vocabulary, vectors = _vocabulary(cfg)
    return MomentRetriever.from_model(model, cfg, vocabulary, vectors, window_top_m=3, **WINDOWS)


def test_coarse_pass_with_m_all_windows_equals_scoring_every_window(head_mgpn, top_three):
    from mgpn_keras.retrieval.retriever import MomentRetriever

    cfg, model = head_mgpn
    vocabulary, vectors = _vocabulary(cfg)
    options = WINDOWS
    every = MomentRetriever.from_model(model, cfg, vocabulary, vectors, **options)
    assert every.info["window_batch"] == 4  # the coarse pass in two calls, 4 + 3 windows
    features = np.random.default_rng(3).standard_normal((300, 24)).astype(np.float32)
    duration = 150.0
    count = len(every.windows(len(features), duration))
    assert count == 7
    full = every.retrieve(features, duration, QUERIES)
    for m in (count, count + 5):
        pruned = MomentRetriever.from_model(model, cfg, vocabulary, vectors, window_top_m=m,
                                            **options).retrieve(features, duration, QUERIES)
        for a, b in zip(full, pruned):
            np.testing.assert_array_equal(a, b)
    # Fewer windows: every kept moment comes from one of the m windows of highest presence.
    from mgpn_keras.model import presence_model
    from mgpn_keras.protocol.clip_averaging import model_clips

    bounds = every.windows(len(features), duration)
    clip = duration / len(features)
    rows = [features[int(round(s / clip)):int(round(e / clip))] for s, e in bounds]
    ids = [vocabulary.index(w) for w in QUERIES[0].split()]
    clips = model_clips(tf.constant(np.stack(rows)), cfg.model.num_sample_clips, True)
    presence = presence_model(model)({"word_vectors": tf.constant(np.repeat(vectors[None, ids], count, 0)),
                                      "query_mask": tf.ones([count, len(ids)]),
                                      "clip_features": clips}).numpy()
    top = np.sort(np.argsort(-presence, kind="stable")[:3])
    found = top_three.retrieve(features, duration, QUERIES[0])[0]
    for start, end, _ in found:
        assert any(bounds[w, 0] - 1e-3 <= start and end <= bounds[w, 1] + 1e-3 for w in top)
    assert found.shape[0] > 0


def test_top_m_needs_a_head_and_a_positive_count(head_mgpn):
    from mgpn_keras.model import build_mgpn
    from mgpn_keras.retrieval.module import MomentRetrievalModule

    cfg, model = head_mgpn
    vocabulary, vectors = _vocabulary(cfg)
    plain_cfg = tiny_config()
    with pytest.raises(ValueError, match="^window_top_m = 3: the model has no window_presence"):
        MomentRetrievalModule(build_mgpn(plain_cfg), plain_cfg, vocabulary, vectors,
                              window_seconds=30.0, window_top_m=3)
    with pytest.raises(ValueError, match=r"^window_top_m = 0, expected an integer >= 1"):
        MomentRetrievalModule(model, cfg, vocabulary, vectors, window_seconds=30.0, window_top_m=0)


def test_export_of_a_head_model_records_and_runs_the_coarse_pass(head_mgpn, top_three, tmp_path):
    from mgpn_keras.serving.export import export_saved_model
    from mgpn_keras.retrieval.retriever import MomentRetriever

    cfg, model = head_mgpn
    vocabulary, vectors = _vocabulary(cfg)
    out = export_saved_model(model, cfg, vocabulary, vectors, tmp_path / "e" / "1",
                             layout="dense", window_top_m=3, **WINDOWS)
    loaded = MomentRetriever.from_export(out)
    assert loaded.info["window_top_m"] == 3 and loaded.info["window_head"] is True
    features = np.random.default_rng(4).standard_normal((300, 24)).astype(np.float32)
    python = top_three  # MomentRetriever.from_model(model, cfg, ..., window_top_m=3, **WINDOWS)
    for a, b in zip(python.retrieve(features, 150.0, QUERIES), loaded.retrieve(features, 150.0, QUERIES)):
        np.testing.assert_array_equal(a, b)


def test_the_sampler_never_returns_a_window_holding_the_moment(tmp_path):
    from training_helpers import prepare_tiny, tiny_training_config

    from mgpn_keras.datasets import load_manifest
    from mgpn_keras.datasets.absent_moments import negatives
    from mgpn_keras.datasets.annotations import read_annotations

    cfg = tiny_training_config()
    manifest = load_manifest(prepare_tiny(tmp_path, cfg))
    files = [str(p) for p, _ in manifest.shards["train"]]
    records = read_annotations("synthetic", str(tmp_path / "raw"), "train")
    moments = {}
    for r in records:
        moments.setdefault((r.video_id, r.sentence), []).append((r.start, r.end))
    sentences = {}
    for r in records:
        sentences.setdefault(r.video_id, set()).add(r.sentence)
    stream = negatives(files, window_seconds=8.0, feature_width=24, num_sample_clips=32,
                       normalize=True, seed=3, with_window=True)
    own = other = 0
    for item in stream.take(200):
        video = item["video_id"].numpy().decode()
        sentence = item["sentence"].numpy().decode()
        window = item["window"].numpy()
        assert item["absent"].numpy() == 1.0 and item["clip_features"].shape == (32, 24)
        if sentence in sentences[video]:  # a query of the window's own video
            own += 1
            for start, end in moments[(video, sentence)]:
                assert end <= window[0] + 1e-4 or start >= window[1] - 1e-4, (video, sentence)
        else:
            other += 1
    assert own > 0 and other > 0
