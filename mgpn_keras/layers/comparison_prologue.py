"""The opening step that every choice-comparison module shares (paper Sec. 3.7):

z = [fused, boundary, content] * mask
x = (ReLU(Conv1x1_{4C -> 2C}(z)) + fused) * mask

`GroupConvComparison`, `StackedConvComparison` and `NonLocalComparison` each own the 1x1
convolution, as their sublayer "mix", and call `enhance` on their inputs.
"""

from keras import ops

from mgpn_keras.layers import initializers


def build_mix(layer, hidden_size: int, num_clips: int):
    """The 1x1 convolution 4C -> 2C of `layer` (a comparison module), built for the dense map:
    the same weight shapes and name ("mix") in every layout."""
    c = int(hidden_size)
    mix = initializers.dense(2 * c, 4 * c, name="mix", dtype=layer.dtype_policy)
    mix.build((None, num_clips, num_clips, 4 * c))
    return mix


def enhance(mix, inputs, mask=None):
    """The enhanced fused map x of the opening step.

    Args:
        mix: the module's `build_mix` layer.
        inputs: `[fused (B, ..., 2C), boundary (B, ..., C), content (B, ..., C)]`: dense maps
            `(B, N, N, .)` or values at the valid cells `(B, V, .)`.
        mask: the `(N, N, 1)` valid-cell mask for dense maps; None at the valid cells, where
            every cell is valid.

    Returns:
        `(B, N, N, 2C)` or `(B, V, 2C)`.
    """
    fused, boundary, content = inputs
    z = ops.concatenate([fused, boundary, content], axis=-1)  # (B, ..., 4C)
    if mask is None:
        return ops.relu(mix(z)) + fused
    mask = ops.cast(mask, fused.dtype)
    return (ops.relu(mix(z * mask)) + fused) * mask
