"""A data set's vocabulary: word -> id, in Python and in graph.

Ids: 0 is padding ("" from `QueryTokenizer`), 1 is unknown, 2.. the words of the vocabulary
list from index 2 on. Rows 0 and 1 of the vector matrix are zero, so padding and unknown words
get a zero vector (REFERENCE.md 6: out-of-vocabulary words map to zero, unlike the reference).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1


def build_vocabulary(words: Iterable[str], vectors: dict[str, np.ndarray],
                     word_dim: int) -> tuple[list[str], np.ndarray]:
    """The vocabulary of the words that have vectors, and its (V, word_dim) float32 matrix.

    Args:
        words: the tokens of a data set's sentences (repeats allowed).
        vectors: word -> vector for (at least) the known words.
        word_dim: width of a vector.

    Returns:
        ([PAD, UNK] + sorted known words, matrix whose rows 0 and 1 are zero).
    """
    known = sorted({w for w in words if w in vectors})
    matrix = np.zeros((len(known) + 2, word_dim), np.float32)
    for i, word in enumerate(known, 2):
        matrix[i] = vectors[word]
    return [PAD, UNK] + known, matrix


def word_index(vocabulary: Sequence[str]) -> dict[str, int]:
    """word -> id for the words of a vocabulary (ids >= 2), for `word_ids`."""
    return {w: i for i, w in enumerate(vocabulary[2:], 2)}


def word_ids(index: dict[str, int], tokens: Iterable[str]) -> list[int]:
    """Python lookup with the same ids as `make_lookup`: "" is PAD_ID, unknown words UNK_ID.

    Args:
        index: `word_index(vocabulary)`.
        tokens: one query's tokens.
    """
    return [index.get(t, UNK_ID) if t else PAD_ID for t in tokens]


def make_lookup(vocabulary: Sequence[str]):
    """A graph-safe word -> id layer (keras StringLookup) for a manifest vocabulary.

    "" (the tokenizer's padding) maps to 0, words outside the vocabulary to 1, vocabulary[k] to k
    for k >= 2. It runs in tf.data, tf.function and SavedModel graphs, and is serialisable.
    """
    import keras

    if list(vocabulary[:2]) != [PAD, UNK]:
        raise ValueError(f"vocabulary must start with {[PAD, UNK]}, got {list(vocabulary[:2])}")
    return keras.layers.StringLookup(vocabulary=list(vocabulary[2:]), mask_token="",
                                     num_oov_indices=1, oov_token=UNK, output_mode="int",
                                     name="word_ids")
