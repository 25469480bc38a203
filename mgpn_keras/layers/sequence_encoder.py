"""Coarse-grained sequence encoder: stacked bidirectional RNNs (paper Sec. 3.2, Table 4)."""

import keras
from keras import ops

from mgpn_keras.config import COARSE_ENCODERS
from mgpn_keras.layers import initializers
from mgpn_keras.layers.transformer_block import TransformerBlock, sinusoidal_positions


class _Untracked:
    """Objects a layer keeps alive without Keras tracking them (no sublayer, nothing saved)."""

    def __init__(self, items):
        self.items = items


@keras.saving.register_keras_serializable(package="mgpn_keras")
class SequenceEncoder(keras.layers.Layer):
    """Stacked bidirectional GRU (or LSTM, or Transformer blocks) over a sequence.

    The reference runs `nn.GRU(num_layers, bidirectional=True)` with hidden // 2 units per
    direction and no inter-layer dropout. Unlike the reference, padded positions are
    masked here, so a query's encoding does not depend on how much padding its batch
    adds (REFERENCE.md 6, "Padding"); on unpadded input both are identical.

    Args:
        hidden_size: C; each direction has C // 2 units.
        num_layers: stacked layers.
        kind: "gru" (MGPN), "lstm" or "transformer".

    Input: `(batch, length, width)` and an optional mask `(batch, length)` (1 = real).
    Output: `(batch, length, C)`, zero at masked positions.
    """

    def __init__(self, hidden_size, num_layers, kind="gru", num_heads=4, **kwargs):
        super().__init__(**kwargs)
        if kind not in COARSE_ENCODERS:
            raise ValueError(f"SequenceEncoder kind {kind!r}; expected one of {list(COARSE_ENCODERS)}")
        self.hidden_size = int(hidden_size)
        self.num_layers = int(num_layers)
        self.kind = kind
        self.num_heads = int(num_heads)
        self.supports_masking = True  # takes the mask as an argument; emits none

    def build(self, input_shape):
        units = self.hidden_size // 2
        self.layers_ = []
        width = int(input_shape[-1])
        if self.kind == "transformer":
            self.input_projection = initializers.dense(self.hidden_size, width, name="input_projection", dtype=self.dtype_policy)
            self.input_projection.build(input_shape)
            shape = (input_shape[0], input_shape[1], self.hidden_size)
            for k in range(self.num_layers):
                block = TransformerBlock(self.hidden_size, self.num_heads, name=f"block_{k}", dtype=self.dtype_policy)
                block.build(shape)
                self.layers_.append(block)
            return
        shape = input_shape
        templates = []
        for k in range(self.num_layers):
            init = initializers.torch_recurrent(units)
            cell_kwargs = dict(
                return_sequences=True,
                kernel_initializer=init,
                recurrent_initializer=init,
                bias_initializer=init,
                dtype=self.dtype_policy,
            )
            if self.kind == "gru":
                rnn = keras.layers.GRU(units, reset_after=True, **cell_kwargs)
            else:
                rnn = keras.layers.LSTM(units, unit_forget_bias=False, **cell_kwargs)
            layer = keras.layers.Bidirectional(rnn, merge_mode="concat", name=f"layer_{k}", dtype=self.dtype_policy)
            layer.build(shape)
            self.layers_.append(layer)
            templates.append(rnn)
            shape = (shape[0], shape[1], 2 * units)
        # Bidirectional copies its template through Keras serialisation. `load_model` runs in
        # an object-sharing scope that knows serialised objects by id(): a template freed after
        # this build lets a later one take its id and be handed an earlier layer instead of a
        # copy ("Forward layer and backward layer should have different `go_backwards`" while
        # loading a .keras file, in about one suite run of three). Held for the encoder's life
        # (untracked: not a sublayer, not saved), no template's id is reused within a load.
        self._rnn_templates = _Untracked(templates)

    def call(self, inputs, mask=None, training=None):
        x = inputs
        bool_mask = None if mask is None else ops.cast(mask, "bool")
        if self.kind == "transformer":
            x = self.input_projection(x)
            x = x + sinusoidal_positions(ops.shape(x)[1], self.hidden_size, x.dtype)[None]
            for block in self.layers_:
                x = block(x, mask=bool_mask, training=training)
        else:
            for layer in self.layers_:
                x = layer(x, mask=bool_mask, training=training)
        if mask is not None:
            x = x * ops.expand_dims(ops.cast(mask, x.dtype), -1)
        return x

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.hidden_size,)

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        config = super().get_config()
        config.update(hidden_size=self.hidden_size, num_layers=self.num_layers, kind=self.kind,
                      num_heads=self.num_heads)
        return config
