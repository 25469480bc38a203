"""QueryTokenizer: sentence strings -> word tokens, the same in data preparation and in serving.

The reference splits on whitespace (`sentence.split()`) and lower-cases each word, so "door." or
"person's" find no GloVe vector. Here punctuation is split off words in the way GloVe's corpus was
tokenised: "door." -> "door", "."; "person's" -> "person", "'s"; "isn't" -> "is", "n't";
hyphenated words ("t-shirt") stay whole.
"""

from __future__ import annotations

import keras
import tensorflow as tf
import tensorflow_text as tf_text

# Steps, in order, applied to the lower-cased text (RE2 syntax).
_NEGATION = (r"n't\b", " n't")  # "isn't" -> "is n't"
_CLITIC = (r"'(s|re|ve|ll|d|m)\b", r" '\1")  # "person's" -> "person 's"
# Split on whitespace (dropped) and on every punctuation mark except apostrophes and hyphens
# inside words (kept, each as a token of its own).
_PUNCTUATION = r"[^\pL\pN\s'\-]"
_DELIMITERS = r"\s+|" + _PUNCTUATION


@keras.saving.register_keras_serializable(package="mgpn_keras")
class QueryTokenizer(keras.layers.Layer):
    """Lower-case and split sentences into word tokens (tensorflow-text ops only).

    Args:
        ragged: if False (the default), return a dense tf.string tensor padded with "" to the
            longest sentence in the batch; if True, a tf.RaggedTensor (B, None).
        **kwargs: Layer arguments (name, ...).

    Input: tf.string of shape (B,), one sentence each.
    Output: tf.string (B, L) padded with "" (or ragged (B, None)). An empty sentence gives no
        tokens. "" is the padding token, which `mgpn_keras.datasets.vocabulary` maps to id 0.

    Example:
        >>> QueryTokenizer()(tf.constant(["A person opens the door."]))
        <tf.Tensor: shape=(1, 6), dtype=string, numpy=
        array([[b'a', b'person', b'opens', b'the', b'door', b'.']], dtype=object)>
    """

    def __init__(self, ragged: bool = False, **kwargs):
        kwargs.setdefault("trainable", False)
        kwargs.setdefault("dtype", "string")
        super().__init__(**kwargs)
        self.ragged = bool(ragged)
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True

    def call(self, sentences):
        sentences = tf.convert_to_tensor(sentences, dtype=tf.string)
        text = tf.strings.lower(sentences, encoding="utf-8")
        text = tf.strings.regex_replace(text, *_NEGATION)
        text = tf.strings.regex_replace(text, *_CLITIC)
        tokens = tf_text.regex_split(text, _DELIMITERS, _PUNCTUATION)  # (B, None) ragged
        if self.ragged:
            return tokens
        return tokens.to_tensor(default_value="")  # (B, L)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], None)

    def get_config(self):
        config = super().get_config()
        config.update({"ragged": self.ragged})
        return config
