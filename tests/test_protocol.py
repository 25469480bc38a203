"""The protocol operations (mgpn_keras.protocol, TensorFlow) against their NumPy oracles
(tests/oracles.py): bit-equal where the reference's arithmetic fixes the result."""

import numpy as np
import pytest
import tensorflow as tf

import oracles
from mgpn_keras.protocol import clip_averaging
from mgpn_keras.protocol.interval_iou import interval_iou
from mgpn_keras.protocol.iou_map import iou_map
from mgpn_keras.protocol.l2_normalize import l2_normalize
from mgpn_keras.protocol.nms import NO_MOMENT_SCORE, nms_by_score, nms_keep, top_moments
from mgpn_keras.protocol.proposals import ranked_proposals
from mgpn_keras.protocol.word_ids import WordLookup, word_table


def _features(clips, width, seed, dtype=np.float32):
    rng = np.random.default_rng(seed)
    scale = rng.uniform(0.01, 50.0, (clips, 1))  # norms far from 1 make rounding visible
    return (rng.standard_normal((clips, width)) * scale).astype(dtype)


# ----------------------------------------------------------------------------- features
@pytest.mark.parametrize("width", [5, 500, 4096])
def test_l2_normalize_is_bit_equal_to_numpy_eager_in_graph_and_in_tf_data(width):
    """500 and 4096 are ActivityNet's and TACoS / VGG's widths (Charades I3D's 1024 is one more
    level of the same recursion as 4096; 5 is below NumPy's 8-accumulator block)."""
    x = _features(37, width, width)
    expected = oracles.l2_normalize(x)
    np.testing.assert_array_equal(l2_normalize(x).numpy(), expected)
    np.testing.assert_array_equal(tf.function(l2_normalize)(tf.constant(x)).numpy(), expected)
    mapped = tf.data.Dataset.from_tensors(x).map(l2_normalize)
    np.testing.assert_array_equal(next(iter(mapped)).numpy(), expected)


def test_l2_normalize_other_axis_and_zero_clips():
    x = np.array([[3.0, 0.0], [4.0, 0.0]], np.float32)
    np.testing.assert_allclose(l2_normalize(x, axis=0).numpy(), [[0.6, 0.0], [0.8, 0.0]])
    fast = l2_normalize(x.T, numpy_order=False).numpy()
    np.testing.assert_allclose(fast, [[0.6, 0.8], [0.0, 0.0]])


@pytest.mark.parametrize("clips", [1, 31, 257])
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_model_clips_equal_the_numpy_oracle_bit_for_bit(clips, dtype):
    x = _features(clips, 500, clips, dtype)
    got = tf.data.Dataset.from_tensors(x).map(
        lambda v: clip_averaging.model_clips(v[None], 32, True)[0])
    np.testing.assert_array_equal(next(iter(got)).numpy(), oracles.model_clips(x, 32, True))
    np.testing.assert_array_equal(clip_averaging.model_clips(x[None], 32, False)[0].numpy(),
                                  oracles.model_clips(x, 32, False))


# ----------------------------------------------------------------------------- intervals
def test_interval_iou_and_iou_map_equal_the_oracles():
    rng = np.random.default_rng(0)
    a = np.sort(rng.uniform(0, 30, (50, 2)), axis=1)
    b = np.sort(rng.uniform(0, 30, (7, 2)), axis=1)
    np.testing.assert_array_equal(interval_iou(a[:, None], b[None]).numpy(),
                                  oracles.iou(a[:, None], b[None]))
    assert np.isnan(interval_iou([1.0, 1.0], [1.0, 1.0]).numpy())  # 0 / 0, as the reference
    durations = rng.uniform(5, 200, 6).astype(np.float32)
    times = (np.sort(rng.uniform(0, 1, (6, 2)), axis=1) * durations[:, None]).astype(np.float32)
    for n in (8, 16, 32, 64, 128):
        np.testing.assert_array_equal(iou_map(times, durations, n).numpy(),
                                      oracles.iou_map(times, durations, n))


# ----------------------------------------------------------------------------- proposals, NMS
def _maps(batch, n, seed, ties=False):
    rng = np.random.default_rng(seed)
    prob = rng.random((batch, n, n)).astype(np.float32)
    if ties:  # a few scores repeat, and the lower triangle is 0 like a masked map
        prob = np.round(prob * 8) / 8
    return (prob * np.triu(np.ones((n, n)))).astype(np.float32)


@pytest.mark.parametrize("n", [8, 16, 32])
def test_ranked_proposals_equal_the_oracle_with_ties_to_the_larger_index(n):
    prob = _maps(4, n, n, ties=True)
    durations = np.array([30.47, 12.0, 100.5, 7.25])
    times, scores = ranked_proposals(prob, durations.astype(np.float32), n)
    want_times, want_scores = oracles.sorted_proposals(prob, durations, n, kind="stable")
    np.testing.assert_array_equal(times.numpy().astype(np.float64), want_times)
    np.testing.assert_array_equal(scores.numpy(), want_scores)


@pytest.mark.parametrize("n, top_k, threshold", [(8, 5, 0.45), (16, 10, 0.3), (32, 5, 0.5)])
def test_nms_and_top_moments_equal_the_oracle(n, top_k, threshold):
    prob = _maps(3, n, 100 + n)
    durations = np.array([30.5, 12.25, 100.0], np.float32)
    times, _ = oracles.sorted_proposals(prob, durations, n, kind="stable")
    np.testing.assert_array_equal(nms_keep(times, threshold, top_k).numpy(),
                                  oracles.nms_indices(times, threshold, top_k))
    got = top_moments(prob, durations, n, threshold, top_k)
    for b, want in enumerate(oracles.top_moments(prob, durations, n, threshold, top_k, "stable")):
        k = len(want)
        np.testing.assert_array_equal(got["start"][b, :k], want[:, 0].astype(np.float32))
        np.testing.assert_array_equal(got["end"][b, :k], want[:, 1].astype(np.float32))
        np.testing.assert_array_equal(got["score"][b, :k], want[:, 2].astype(np.float32))
        assert np.all(got["score"][b, k:].numpy() == NO_MOMENT_SCORE)


def test_nms_merges_candidates_of_several_windows():
    """The reusable form: candidates of two windows, concatenated in any order."""
    times = np.array([[[0.0, 10.0], [50.0, 60.0], [1.0, 10.0], [51.0, 60.0], [20.0, 30.0]]])
    scores = np.array([[0.9, 0.8, 0.7, 0.6, 0.5]])
    np.testing.assert_array_equal(nms_keep(times, 0.45, 4).numpy(), [[0, 1, 4, -1]])
    shuffled = [3, 0, 4, 2, 1]
    keep = nms_by_score(times[:, shuffled], scores[:, shuffled], 0.45, 4).numpy()
    np.testing.assert_array_equal(keep, [[1, 4, 2, -1]])  # the same moments, input indices


# ----------------------------------------------------------------------------- words
def test_word_ids_equal_the_oracle_and_check_the_vocabulary():
    vocabulary = ["<pad>", "<unk>", ".", "door", "the"]
    tokens = [["the", "door", ".", ""], ["zebra", "the", "", ""]]
    got = WordLookup(vocabulary)(tf.constant(tokens)).numpy().tolist()
    assert got == [oracles.word_ids(vocabulary, row) for row in tokens] == \
        [[4, 3, 2, 0], [1, 4, 0, 0]]
    with pytest.raises(ValueError, match="vocabulary must start with"):
        word_table(["door", "the"])
    with pytest.raises(ValueError, match="repeated words"):
        word_table(["<pad>", "<unk>", "door", "door"])
