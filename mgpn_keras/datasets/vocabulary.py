"""A data set's vocabulary: the word list and its vector matrix; word -> id is `protocol.word_ids`.

Ids: 0 is padding ("" from `QueryTokenizer`), 1 is unknown, 2.. the words of the vocabulary
list from index 2 on. Rows 0 and 1 of the vector matrix are zero, so padding and unknown words
get a zero vector (REFERENCE.md 6: out-of-vocabulary words map to zero, unlike the reference).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from mgpn_keras.protocol.special_tokens import PAD, PAD_ID, UNK, UNK_ID  # noqa: F401  (re-exported)


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
