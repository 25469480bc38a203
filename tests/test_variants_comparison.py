"""The comparison modules of paper Fig. 5: shapes, masking, the non-local maths, serialisation."""

import numpy as np
import pytest

N, SCALES, C = 8, [3, 2], 8


def _mask():
    from mgpn_keras.valid_cells.geometry import valid_mask

    return valid_mask(N, SCALES)[None, :, :, None]  # (1, N, N, 1)


def _inputs(seed=0, batch=2):
    rng = np.random.default_rng(seed)
    mask = _mask()
    fused = rng.normal(size=(batch, N, N, 2 * C)).astype(np.float32) * mask
    boundary = rng.normal(size=(batch, N, N, C)).astype(np.float32) * mask
    content = rng.normal(size=(batch, N, N, C)).astype(np.float32) * mask
    return [fused, boundary, content]


def _layer(kind):
    from mgpn_keras.config import ModelConfig
    from mgpn_keras.layers.comparison_variants import build_comparison

    m = ModelConfig(hidden_size=C, num_clips=N, num_scale_layers=SCALES, groups=4, kernel_size=3,
                    comparison=kind, stacked_conv_layers=2, stacked_conv_kernel=3, non_local_blocks=2)
    return build_comparison(m)


KINDS = ["group_conv", "stacked_conv", "non_local"]


@pytest.mark.parametrize("kind", KINDS)
def test_output_shape_zero_on_invalid_cells_and_blind_to_them(kind):
    import keras

    keras.utils.set_random_seed(0)
    layer = _layer(kind)
    x = _inputs()
    out = np.asarray(layer(x, training=False))
    assert out.shape == (2, N, N, C)
    invalid = _mask()[0, :, :, 0] == 0
    assert np.all(out[:, invalid] == 0.0)
    assert np.abs(out[:, ~invalid]).max() > 0
    # Garbage at the invalid cells of any input changes nothing.
    rng = np.random.default_rng(1)
    noisy = [v + rng.normal(size=v.shape).astype(np.float32) * (1 - _mask()) * 10 for v in x]
    np.testing.assert_allclose(np.asarray(layer(noisy, training=False)), out, atol=1e-5, rtol=0)


def test_stacked_conv_is_local_and_non_local_is_global():
    import keras

    from mgpn_keras.layers.stacked_conv_comparison import StackedConvComparison

    keras.utils.set_random_seed(0)
    stacked = StackedConvComparison(C, N, SCALES, num_layers=1, kernel_size=3)
    non_local = _layer("non_local")
    x = _inputs()
    moved = [v.copy() for v in x]
    moved[0][:, 0, 0] += 5.0  # the candidate (0, 0)
    for layer in (stacked, non_local):
        layer(x, training=False)
    # Let the non-local branch contribute (its BatchNorm scale starts at 0).
    for block in non_local.blocks:
        block.norm.gamma.assign(np.ones(C, np.float32))
    far = (7, 7)  # a valid cell 7 rows and columns away
    d_stacked = np.abs(np.asarray(stacked(moved)) - np.asarray(stacked(x)))[:, far[0], far[1]].max()
    d_non_local = np.abs(np.asarray(non_local(moved)) - np.asarray(non_local(x)))[:, far[0], far[1]].max()
    assert d_stacked == 0.0
    assert d_non_local > 1e-4


def _dense(layer, v):
    kernel, bias = layer.get_weights()
    return v @ kernel + bias


def _numpy_non_local(block, x):
    """The block's formula in numpy, with its inference-mode BatchNorm."""
    gamma, beta, mean, var = block.norm.get_weights()
    theta, phi, g = _dense(block.theta, x), _dense(block.phi, x), _dense(block.g, x)
    logits = theta @ phi.transpose(0, 2, 1)
    weights = np.exp(logits - logits.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    y = _dense(block.out, weights @ g)
    return (y - mean) / np.sqrt(var + 1e-5) * gamma + beta + x


def _randomise_norm(block, seed):
    rng = np.random.default_rng(seed)
    block.norm.set_weights([rng.normal(size=C).astype(np.float32), rng.normal(size=C).astype(np.float32),
                            rng.normal(size=C).astype(np.float32), rng.random(C).astype(np.float32) + 0.5])


def test_non_local_block_matches_its_formula():
    import keras

    from mgpn_keras.layers.non_local_block import NonLocalBlock

    keras.utils.set_random_seed(0)
    block = NonLocalBlock(C)
    x = np.random.default_rng(0).normal(size=(2, 5, C)).astype(np.float32)
    block(x)
    _randomise_norm(block, 1)
    np.testing.assert_allclose(np.asarray(block(x, training=False)), _numpy_non_local(block, x),
                               atol=1e-5, rtol=0)
    assert block.inter_channels == C // 2


def test_non_local_comparison_attends_over_the_valid_cells_only():
    import keras

    from mgpn_keras.valid_cells.geometry import valid_cells

    keras.utils.set_random_seed(0)
    layer = _layer("non_local")
    x = _inputs()
    layer(x)
    for k, block in enumerate(layer.blocks):
        _randomise_norm(block, k)
    fused, boundary, content = x
    mask = _mask()
    z = np.concatenate([fused, boundary, content], -1) * mask
    enhanced = (np.maximum(_dense(layer.mix, z), 0) + fused) * mask
    reduced = _dense(layer.reduce, enhanced)  # (B, N, N, C)
    start, end = valid_cells(N, SCALES)
    cells = reduced[:, start, end]  # (B, V, C): the invalid cells take no part
    for block in layer.blocks:
        cells = _numpy_non_local(block, cells)
    expected = np.zeros((2, N, N, C), np.float32)
    expected[:, start, end] = cells
    np.testing.assert_allclose(np.asarray(layer(x, training=False)), expected, atol=1e-4, rtol=0)


def test_non_local_blocks_start_as_identity():
    import keras

    keras.utils.set_random_seed(0)
    layer = _layer("non_local")
    x = _inputs()
    out = np.asarray(layer(x, training=False))
    # With zero BatchNorm scales the output is the 1x1 reduction of the enhanced map.
    fused, boundary, content = x
    mask = _mask()
    z = np.concatenate([fused, boundary, content], -1) * mask
    k, b = layer.mix.get_weights()
    enhanced = (np.maximum(z @ k + b, 0) + fused) * mask
    k, b = layer.reduce.get_weights()
    np.testing.assert_allclose(out, (enhanced @ k + b) * mask, atol=1e-5, rtol=0)


def test_stacked_conv_parameter_count():
    from mgpn_keras.layers.stacked_conv_comparison import StackedConvComparison

    layer = StackedConvComparison(C, N, SCALES, num_layers=3, kernel_size=5)
    layer(_inputs())
    mix = 4 * C * 2 * C + 2 * C
    convs = (25 * 2 * C * C + C) + 2 * (25 * C * C + C)  # full, ungrouped convolutions
    assert layer.count_params() == mix + convs


def test_build_comparison_rejects_unknown_modules():
    from types import SimpleNamespace

    from mgpn_keras.layers.comparison_variants import build_comparison

    with pytest.raises(ValueError, match="'graph_attention'.*group_conv"):
        build_comparison(SimpleNamespace(comparison="graph_attention"))
