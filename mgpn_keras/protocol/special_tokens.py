"""The two reserved vocabulary entries and their ids, without TensorFlow.

Ids: 0 is padding ("" from `QueryTokenizer`), 1 is an unknown word, k >= 2 the vocabulary's
word k. Kept apart from `word_ids` (which needs TensorFlow) so that reading a manifest's
vocabulary, and `mgpn prepare --help`, do not import TensorFlow.
"""

PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1
