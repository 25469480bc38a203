"""Fine-grained query encoder: word, bi-gram and tri-gram phrases (paper Sec. 3.5)."""

import keras
from keras import ops

from mgpn_keras.layers import initializers


@keras.saving.register_keras_serializable(package="mgpn_keras")
class FineQueryEncoder(keras.layers.Layer):
    """Phrase-level query features from three parallel convolutions and a projection.

    As in the reference's `PhraseEncodeNet` (REFERENCE.md 5.6) the "bi-gram" and
    "tri-gram" convolutions are dilated by 2: the bi-gram reads tokens t-1 and t+1, the
    tri-gram reads t-2, t and t+2. The three outputs are concatenated [uni, bi, tri] and
    projected back to C. Zero padding on both sides; padded query positions are zero on
    input, so real tokens see the same neighbours as in an unpadded query.

    Args:
        hidden_size: C, the width of each n-gram output and of the result.

    Input: query `(batch, L, C_in)`.
    Output: `(batch, L, C)`; padded positions are not zero (mask downstream).
    """

    def __init__(self, hidden_size, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = int(hidden_size)

    def build(self, input_shape):
        width = int(input_shape[-1])
        c = self.hidden_size

        def conv(kernel, name):
            return keras.layers.Conv1D(
                c, kernel, dilation_rate=2 if kernel > 1 else 1, padding="valid",
                kernel_initializer=initializers.torch_kernel(),
                bias_initializer=initializers.torch_bias(width * kernel), name=name,
                dtype=self.dtype_policy)

        self.unigram = initializers.dense(c, width, name="unigram", dtype=self.dtype_policy)
        self.unigram.build(input_shape)
        self.bigram = conv(2, "bigram")
        self.bigram.build((input_shape[0], None, width))
        self.trigram = conv(3, "trigram")
        self.trigram.build((input_shape[0], None, width))
        self.projection = initializers.dense(c, 3 * c, name="projection", dtype=self.dtype_policy)
        self.projection.build(tuple(input_shape[:-1]) + (3 * c,))

    def call(self, query):
        bigrams = self.bigram(ops.pad(query, [[0, 0], [1, 1], [0, 0]]))  # taps t-1, t+1
        trigrams = self.trigram(ops.pad(query, [[0, 0], [2, 2], [0, 0]]))  # taps t-2, t, t+2
        phrases = ops.concatenate([self.unigram(query), bigrams, trigrams], axis=-1)  # (B, L, 3C)
        return self.projection(phrases)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.hidden_size,)

    def get_config(self):
        config = super().get_config()
        config.update(hidden_size=self.hidden_size)
        return config
