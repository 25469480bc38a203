"""GloVe: text files of any width (streamed, subset cached) and the embedded 6B 50d vectors."""

import numpy as np
import pytest

from mgpn_keras.datasets import DataError
from mgpn_keras.datasets import glove as glove_lib
from mgpn_keras.datasets.vocabulary import PAD, UNK, build_vocabulary
from oracles import word_ids


def _write(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_text_file_of_any_width(tmp_path):
    path = _write(tmp_path / "vectors.txt", ["the 0.1 0.2 0.3", "door -1 2.5 3e-2",
                                             "caf\u00e9 1 1 1"])
    vectors, dim = glove_lib.read_glove_text(path)
    assert dim == 3 and sorted(vectors) == ["caf\u00e9", "door", "the"]
    np.testing.assert_allclose(vectors["door"], [-1.0, 2.5, 0.03])
    assert vectors["door"].dtype == np.float32


def test_keeps_only_wanted_words_skips_spaced_words_first_row_wins(tmp_path):
    path = _write(tmp_path / "glove.test.2d.txt", [
        ". 1 1", ". . . 5 5",  # a word with spaces (glove.840B has some): skipped
        "door 2 2", "Door 3 3", "door 4 4", "window 5 5"])
    vectors, dim = glove_lib.read_glove_text(path, {"door", ".", "missing"})
    assert dim == 2 and sorted(vectors) == [".", "door"]
    np.testing.assert_allclose(vectors["door"], [2, 2])  # the first row of a repeated word
    np.testing.assert_allclose(vectors["."], [1, 1])


@pytest.mark.parametrize("line,pattern", [
    ("door 1 2", r"glove.x.3d.txt:2: word 'door': expected 3 values, got 2"),
    ("door 1 two 3", r"glove.x.3d.txt:2: word 'door': expected 3 numbers"),
])
def test_bad_rows_name_file_and_line(tmp_path, line, pattern):
    path = _write(tmp_path / "glove.x.3d.txt", ["the 1 2 3", line])
    with pytest.raises(DataError, match=pattern):
        glove_lib.read_glove_text(path, {"door"})


def test_empty_file(tmp_path):
    with pytest.raises(DataError, match=r"empty.txt: empty file"):
        glove_lib.read_glove_text(_write(tmp_path / "empty.txt", []))


def test_subset_is_cached(tmp_path, monkeypatch):
    path = _write(tmp_path / "glove.t.2d.txt", ["door 1 2", "window 3 4", "floor 5 6"])
    cache = tmp_path / "cache"
    first, dim = glove_lib.load_vectors(["door", "floor", "nope"], path, cache_dir=cache)
    assert dim == 2 and sorted(first) == ["door", "floor"]
    assert len(list(cache.glob("*.npz"))) == 1

    def no_streaming(*args, **kwargs):
        raise AssertionError("the cached subset should have been used")

    monkeypatch.setattr(glove_lib, "read_glove_text", no_streaming)
    second, dim2 = glove_lib.load_vectors(["floor", "door", "nope"], path, cache_dir=cache)
    assert dim2 == 2 and sorted(second) == ["door", "floor"]
    np.testing.assert_array_equal(second["floor"], first["floor"])
    with pytest.raises(AssertionError, match="cached subset"):  # another word set: streamed
        glove_lib.load_vectors(["window"], path, cache_dir=cache)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"GloVe file .*nothing.txt does not exist"):
        glove_lib.load_vectors(["a"], tmp_path / "nothing.txt")


def test_embedded_glove_6b_50d():
    vectors, dim = glove_lib.load_vectors(["the", "door", "qqzzxxv", ".", "'s", "n't"])
    assert dim == 50 and sorted(vectors) == ["'s", ".", "door", "n't", "the"]
    # the first row of glove.6B.50d.txt: "the 0.418 0.24968 -0.41242 0.1217 0.34527 ..."
    np.testing.assert_allclose(vectors["the"][:5], [0.418, 0.24968, -0.41242, 0.1217, 0.34527])


def test_vocabulary_zero_rows_and_ids():
    vectors = {"door": np.ones(3, np.float32), "the": np.full(3, 2.0, np.float32)}
    vocabulary, matrix = build_vocabulary(["the", "door", "zzz", "the"], vectors, 3)
    assert vocabulary == [PAD, UNK, "door", "the"]
    np.testing.assert_array_equal(matrix[:2], 0.0)
    np.testing.assert_array_equal(matrix[3], vectors["the"])
    assert word_ids(vocabulary, ["the", "zzz", "door", ""]) == [3, 1, 2, 0]
