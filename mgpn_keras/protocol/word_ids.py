"""Words -> vocabulary ids, in graph (prepare, serving).

Ids: 0 is padding ("" from `QueryTokenizer`), 1 is an unknown word, k >= 2 the vocabulary's
word k (`datasets.vocabulary`: the list starts with "<pad>", "<unk>"). A static hash table, so
it runs eagerly, in tf.data and in SavedModels (core TensorFlow ops).
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from mgpn_keras.protocol.special_tokens import PAD, PAD_ID, UNK, UNK_ID  # noqa: F401  (re-exported)


def word_table(vocabulary: Sequence[str], name: str = "word_ids") -> tf.lookup.StaticHashTable:
    """The table vocabulary[k] -> k for k >= 2, anything else -> UNK_ID.

    Raises:
        ValueError: the vocabulary does not start with "<pad>", "<unk>", or repeats a word.
    """
    vocabulary = list(vocabulary)
    if vocabulary[:2] != [PAD, UNK]:
        raise ValueError(f"vocabulary must start with {[PAD, UNK]}, got {vocabulary[:2]}")
    if len(set(vocabulary)) != len(vocabulary):
        raise ValueError("vocabulary has repeated words; expected each word once")
    return tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(vocabulary[2:], tf.string),
                                            tf.range(2, len(vocabulary), dtype=tf.int64)),
        default_value=UNK_ID, name=name)


def word_ids(table: tf.lookup.StaticHashTable, tokens) -> tf.Tensor:
    """Ids of `tokens` (any shape, tf.string; "" is padding): int64 of the same shape."""
    tokens = tf.convert_to_tensor(tokens, tf.string)
    return tf.where(tf.equal(tokens, ""), tf.constant(PAD_ID, tf.int64), table.lookup(tokens))


class WordLookup(tf.Module):
    """`word_ids` over a vocabulary's table, as a trackable module (SavedModels keep it).

    Args:
        vocabulary: words by id, starting with "<pad>", "<unk>".
    """

    def __init__(self, vocabulary: Sequence[str], name: str = "word_ids"):
        super().__init__(name=name)
        self.table = word_table(vocabulary, name=name)

    def __call__(self, tokens) -> tf.Tensor:
        return word_ids(self.table, tokens)
