"""In-graph request checks for serving: a bad request fails with a clear InvalidArgument.

Each check is a `tf.debugging.Assert` whose message names what was received and what was
expected, e.g. `assertion failed: [video_features has width 500, this model expects 4096
(preset tacos)]`. TensorFlow Serving returns it as the error of the REST or gRPC call.
Callers run the model under `tf.control_dependencies` on these checks, so nothing is computed
from a request that failed one.
"""

from __future__ import annotations

import tensorflow as tf

# A token counts as a word when it has a letter or a digit (punctuation alone does not),
# the rule of `mgpn prepare` for keeping a sentence.
_WORDLIKE = r".*[\pL\pN].*"
_SHOWN_CHARS = 120  # of a query quoted in a message


def _text(x) -> tf.Tensor:
    if x.dtype.is_floating:
        return tf.strings.as_string(x, shortest=True)
    return tf.strings.as_string(x)


def _first(bad: tf.Tensor) -> tf.Tensor:
    """Index of the first True of a (B,) bool tensor (0 when none is)."""
    return tf.argmax(tf.cast(bad, tf.int32), output_type=tf.int32)


def _shown(query: tf.Tensor, index: tf.Tensor) -> tf.Tensor:
    """The start of a query's text, for a message (the Assert op escapes quotes, so the text
    ends the message instead of being quoted)."""
    return tf.strings.substr(query[index], 0, _SHOWN_CHARS, unit="UTF8_CHAR")


def check_shapes(query, video_features, duration, input_size: int, preset: str) -> list:
    """Batch sizes agree and are not 0, the feature width is the model's, and there is at
    least one clip."""
    b_query, b_video, b_duration = (tf.shape(query)[0], tf.shape(video_features)[0],
                                    tf.shape(duration)[0])
    width, clips = tf.shape(video_features)[2], tf.shape(video_features)[1]
    same_batch = tf.logical_and(tf.equal(b_query, b_video), tf.equal(b_query, b_duration))
    return [
        tf.debugging.Assert(same_batch, [tf.strings.join([
            "batch sizes differ: query has ", _text(b_query), ", video_features ",
            _text(b_video), ", duration ", _text(b_duration),
            "; send one query, one video and one duration per example"])], name="check_batch"),
        tf.debugging.Assert(b_query > 0, [
            "the request has no examples, expected at least one query with its video and "
            "duration"], name="check_not_empty"),
        tf.debugging.Assert(tf.equal(width, input_size), [tf.strings.join([
            "video_features has width ", _text(width), ", this model expects ",
            str(input_size), f" (preset {preset})"])], name="check_width"),
        tf.debugging.Assert(clips > 0, [
            f"video_features has no clips, expected at least one clip of width {input_size}"],
            name="check_clips"),
    ]


def check_values(video_features, duration) -> list:
    """Features are finite; durations are positive and finite (one per example)."""
    bad_video = tf.logical_not(tf.reduce_all(tf.math.is_finite(video_features), axis=[1, 2]))
    bad_duration = tf.logical_not(tf.logical_and(tf.math.is_finite(duration), duration > 0))
    v, d = _first(bad_video), _first(bad_duration)
    return [
        tf.debugging.Assert(tf.logical_not(tf.reduce_any(bad_video)), [tf.strings.join([
            "video_features of example ", _text(v),
            " hold a NaN or infinite value, expected finite numbers"])], name="check_finite"),
        tf.debugging.Assert(tf.logical_not(tf.reduce_any(bad_duration)), [tf.strings.join([
            "duration of example ", _text(d), " is ", _text(duration[d]),
            " seconds, expected a positive, finite number of seconds"])], name="check_duration"),
    ]


def check_queries(query, tokens, ids, unknown_id: int, vocabulary_size: int) -> list:
    """Every query has a token, and a vocabulary word among its tokens.

    Args:
        query: (B,) the sentences.
        tokens: (B, L) their tokens, "" for padding.
        ids: (B, L) vocabulary ids of the tokens (0 padding, `unknown_id` unknown).
    """
    empty = tf.logical_not(tf.reduce_any(tf.not_equal(tokens, ""), axis=1))  # (B,)
    known = tf.logical_and(ids > unknown_id, tf.strings.regex_full_match(tokens, _WORDLIKE))
    no_word = tf.logical_and(tf.logical_not(empty), tf.logical_not(tf.reduce_any(known, axis=1)))
    e, u = _first(empty), _first(no_word)
    return [
        tf.debugging.Assert(tf.logical_not(tf.reduce_any(empty)), [tf.strings.join([
            "query ", _text(e), " is empty (no tokens), expected a sentence"])],
            name="check_query_empty"),
        tf.debugging.Assert(tf.logical_not(tf.reduce_any(no_word)), [tf.strings.join([
            "query ", _text(u), " has no word in the vocabulary of this model (",
            str(vocabulary_size), " words), expected at least one known word; the query "
            "was: ", _shown(query, u)])], name="check_query_words"),
    ]


def check_scores(joint_prob) -> list:
    """The model's scores are finite (it never gives NaN on valid inputs and weights)."""
    return [tf.debugging.Assert(tf.reduce_all(tf.math.is_finite(joint_prob)), [
        "the model produced a non-finite score: its weights are broken (NaN or infinite)"],
        name="check_scores")]
