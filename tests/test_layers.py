"""The reference's arithmetic in individual layers (the shape, config, training and dtype
checks of every registered layer are in test_registered_layers.py)."""

import numpy as np


def test_moment_map_is_max_and_mean_over_each_valid_range():
    from mgpn_keras.layers.moment_map import MomentMap2D
    from mgpn_keras.valid_cells.geometry import valid_cells

    n, scales = 32, [15, 8]
    x = np.random.default_rng(1).normal(size=(2, n, 6)).astype(np.float32)
    boundary, content = (np.asarray(t) for t in MomentMap2D(n, scales)(x))
    start, end = valid_cells(n, scales)
    expected_content = np.zeros_like(content)
    expected_boundary = np.zeros_like(boundary)
    for i, j in zip(start, end):
        expected_content[:, i, j] = x[:, i: j + 1].max(axis=1)
        expected_boundary[:, i, j] = (x[:, i] + x[:, j]) / 2
    np.testing.assert_array_equal(content, expected_content)
    np.testing.assert_allclose(boundary, expected_boundary, atol=1e-7)
    sparse_b, sparse_c = MomentMap2D(n, scales, layout="valid_cells")(x)
    np.testing.assert_array_equal(np.asarray(sparse_c), content[:, start, end])


def test_reference_layer_norm_uses_unbiased_std_plus_eps():
    from mgpn_keras.layers.reference_layer_norm import ReferenceLayerNorm

    x = np.random.default_rng(2).normal(size=(3, 4, 10)).astype(np.float64)
    expected = (x - x.mean(-1, keepdims=True)) / (x.std(-1, ddof=1, keepdims=True) + 1e-6)
    np.testing.assert_allclose(np.asarray(ReferenceLayerNorm()(x.astype(np.float32))), expected, atol=1e-5)


def test_fine_query_encoder_taps_are_dilated():
    """The bi-gram reads t-1 and t+1 only, the tri-gram t-2, t and t+2 (REFERENCE.md 5.6)."""
    from mgpn_keras.layers.fine_query_encoder import FineQueryEncoder

    layer = FineQueryEncoder(4)
    q = np.zeros((1, 9, 4), np.float32)
    layer(q)
    base = np.asarray(layer(q))
    probe = q.copy()
    probe[0, 4] = 1.0  # a spike at token 4
    changed = np.abs(np.asarray(layer(probe)) - base).max(axis=-1)[0] > 0
    # unigram: 4; bigram: 3, 5; trigram: 2, 4, 6
    assert changed.tolist() == [False, False, True, True, True, True, True, False, False]


def test_group_conv2d_equals_keras_grouped_conv():
    import keras

    from mgpn_keras.layers.group_conv2d import GroupConv2D

    x = np.random.default_rng(3).normal(size=(2, 9, 9, 16)).astype(np.float32)
    ours = GroupConv2D(8, 3, groups=4)
    ours(x)
    reference = keras.layers.Conv2D(8, 3, padding="same", groups=4)
    reference(x)
    reference.set_weights(ours.get_weights())
    np.testing.assert_allclose(np.asarray(ours(x)), np.asarray(reference(x)), atol=1e-5)
