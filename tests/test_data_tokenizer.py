"""QueryTokenizer and the graph word -> id lookup: the same tokens in prepare, tf.data and a
SavedModel."""

import numpy as np
import pytest
import tensorflow as tf

from mgpn_keras.datasets.prepare import tokenize
from oracles import word_ids
from mgpn_keras.layers.query_tokenizer import QueryTokenizer
from mgpn_keras.protocol.word_ids import WordLookup

CASES = [
    ("A person opens the door.", ["a", "person", "opens", "the", "door", "."]),
    ("He isn't holding the T-shirt,  person's cup!",
     ["he", "is", "n't", "holding", "the", "t-shirt", ",", "person", "'s", "cup", "!"]),
    ("  Then:\t(slowly) walks  ", ["then", ":", "(", "slowly", ")", "walks"]),
    ("Caf\u00c9 d\u00e9j\u00e0-vu", ["caf\u00e9", "d\u00e9j\u00e0-vu"]),
    ("", []),
]


def _decode(rows):
    return [[t.decode("utf-8") for t in row] for row in rows]


def test_tokens_ragged_and_dense():
    sentences = tf.constant([s for s, _ in CASES])
    ragged = QueryTokenizer(ragged=True)(sentences)
    assert isinstance(ragged, tf.RaggedTensor)
    assert _decode(ragged.to_list()) == [t for _, t in CASES]
    dense = QueryTokenizer()(sentences)
    longest = max(len(t) for _, t in CASES)
    assert dense.dtype == tf.string and dense.shape == (len(CASES), longest)
    for row, (_, expected) in zip(_decode(dense.numpy()), CASES):
        assert row == expected + [""] * (longest - len(expected))


def test_prepare_uses_the_same_tokenizer():
    assert tokenize([s for s, _ in CASES], chunk=2) == [t for _, t in CASES]


def test_in_tf_function_and_tf_data():
    tokenizer = QueryTokenizer()

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def run(x):
        return tokenizer(x)

    assert _decode(run(tf.constant(["Door."])).numpy()) == [["door", "."]]
    ds = tf.data.Dataset.from_tensor_slices(["a b.", "c"]).batch(2).map(tokenizer)
    assert _decode(next(iter(ds)).numpy()) == [["a", "b", "."], ["c", "", ""]]


def test_serialisation():
    import keras

    layer = QueryTokenizer(ragged=True, name="tok")
    clone = keras.layers.deserialize(keras.layers.serialize(layer))
    assert isinstance(clone, QueryTokenizer) and clone.ragged and clone.name == "tok"


def test_lookup_ids_in_graph_match_python():
    vocabulary = ["<pad>", "<unk>", ".", "door", "the"]
    lookup = WordLookup(vocabulary)
    tokens = QueryTokenizer()(tf.constant(["The door.", "the ZEBRA"]))
    ids = lookup(tokens).numpy()
    assert ids.tolist() == [[4, 3, 2], [4, 1, 0]]
    for row, toks in zip(ids, _decode(tokens.numpy())):
        assert row.tolist() == word_ids(vocabulary, toks)
    with pytest.raises(ValueError, match=r"vocabulary must start with"):
        WordLookup(["door", "the"])


def test_tokenizer_and_lookup_in_a_savedmodel(tmp_path):
    vocabulary = ["<pad>", "<unk>", ".", "door"]
    vectors = np.arange(8, dtype=np.float32).reshape(4, 2)
    vectors[:2] = 0

    class Serving(tf.Module):
        def __init__(self):
            super().__init__()
            self.tokenizer = QueryTokenizer()
            self.lookup = WordLookup(vocabulary)
            self.vectors = tf.Variable(vectors)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def __call__(self, sentences):
            ids = self.lookup(self.tokenizer(sentences))
            return tf.gather(self.vectors, ids)

    tf.saved_model.save(Serving(), str(tmp_path / "sm"))
    loaded = tf.saved_model.load(str(tmp_path / "sm"))
    out = loaded(tf.constant(["Door.", "zebra door"])).numpy()
    np.testing.assert_array_equal(out, [[[6, 7], [4, 5]], [[0, 0], [6, 7]]])
