"""The exported serving module: sentences + raw clip features + durations -> top-k moments.

`MomentRetrievalModule` wraps a trained MGPN model, the vocabulary and the word vectors of its
data set in a `tf.Module` whose two `tf.function`s become the SavedModel's signatures:

- `serve` ("serving_default"): query tf.string [batch], video_features float32
  [batch, clips, width] (any clip count), duration float32 [batch] seconds -> start, end,
  score float32 [batch, top_k], the NMS-kept best moments (`protocol.nms.top_moments`); a video
  longer than `window_seconds` is retrieved by overlapping windows batched in the graph
  (`windowing.windowed_moments`), its moments in the video's seconds.
- `score_map` ("score_map"): the same inputs -> score_map float32 [batch, N, N], the joint
  probabilities `sigmoid(logits) * mask` (row = start clip, column = end clip).

Inside the graph: checks (`validation`), tokenisation (`QueryTokenizer`, tensorflow-text),
word ids, word vectors (a variable), per-clip L2 normalisation and averaging to the preset's
sampled length, the Keras model, and ranking with NMS; the protocol operations are those of
`mgpn_keras.protocol`, which training data and evaluation use too. The traced graph holds only TensorFlow and tensorflow-text ops, so it
loads without mgpn_keras. Trace it under `portable.portable_tracing(model)` (as
`export_saved_model` does) so that it needs neither XLA nor cuDNN.
"""

from __future__ import annotations

import json

import numpy as np
import tensorflow as tf

from mgpn_keras.config import Config
from mgpn_keras.layers.query_tokenizer import QueryTokenizer
from mgpn_keras.model import has_window_head, presence_model, score_output
from mgpn_keras.protocol.clip_averaging import model_clips
from mgpn_keras.protocol.nms import top_moments
from mgpn_keras.protocol.word_ids import PAD_ID, UNK_ID, word_ids, word_table
from mgpn_keras.retrieval import validation, windowing
from mgpn_keras.valid_cells.geometry import valid_mask

INPUT_SIGNATURE = (
    tf.TensorSpec([None], tf.string, name="query"),
    tf.TensorSpec([None, None, None], tf.float32, name="video_features"),
    tf.TensorSpec([None], tf.float32, name="duration"),
)
OUTPUT_NAMES = ("start", "end", "score")


class MomentRetrievalModule(tf.Module):
    """Serving module of a trained MGPN model (see the module docstring for the signatures).

    Args:
        model: the Keras model of `mgpn_keras.model.build_mgpn(cfg)`, with trained weights.
        cfg: its Config: model geometry, `data.normalize`, the preset name.
        vocabulary: words by id, starting with "<pad>", "<unk>" (a manifest's vocabulary).
        vectors: (len(vocabulary), word_dim) float32, rows 0 and 1 zero.
        top_k: moments per query (default: max(cfg.eval.recall)).
        nms_threshold: NMS threshold (default: cfg.eval.nms_threshold).
        window_seconds: videos longer than this are retrieved by windows
            (`mgpn_keras.retrieval.windowing`); default cfg.eval.window_seconds; None: every
            video whole, as the reference does.
        window_overlap_seconds: overlap of consecutive windows (default
            cfg.eval.window_overlap_seconds, else half a window).
        window_batch: windows per model call (default cfg.eval.window_batch).
        window_top_m: with a window-presence head (`model.window_head`), the 2D stage runs
            only on the window_top_m windows of highest presence, after a coarse pass over
            all (default cfg.eval.window_top_m; None: every window). With the head, a
            window's moment scores are its map's probabilities times its presence
            probability, so that windows compare.

    Attributes saved with it (read them from the reloaded object): `top_k`, `nms_threshold`,
    `num_clips`, `num_sample_clips`, `input_size`, `word_dim`, `preset` and `metadata_json`
    (every recorded fact as JSON).
    """

    def __init__(self, model, cfg: Config, vocabulary, vectors, *, top_k: int | None = None,
                 nms_threshold: float | None = None, window_seconds: float | None = None,
                 window_overlap_seconds: float | None = None, window_batch: int | None = None,
                 window_top_m: int | None = None, metadata: dict | None = None,
                 name: str = "mgpn_serving"):
        super().__init__(name=name)
        m = cfg.model
        vocabulary = list(vocabulary)
        vectors = np.asarray(vectors, np.float32)
        if vectors.shape != (len(vocabulary), m.word_dim):
            raise ValueError(f"vectors have shape {vectors.shape}, expected "
                             f"({len(vocabulary)}, {m.word_dim}) for the vocabulary and "
                             f"model.word_dim of preset {cfg.name!r}")
        top_k = int(top_k if top_k is not None else max(cfg.eval.recall))
        nms_threshold = float(nms_threshold if nms_threshold is not None
                              else cfg.eval.nms_threshold)
        if top_k < 1:
            raise ValueError(f"top_k = {top_k}, expected a positive integer")
        if not 0.0 <= nms_threshold <= 1.0:
            raise ValueError(f"nms_threshold = {nms_threshold}, expected a value in [0, 1]")

        window_batch = int(window_batch if window_batch is not None else cfg.eval.window_batch)
        if window_batch < 1:
            raise ValueError(f"window_batch = {window_batch}, expected a positive integer")
        head = has_window_head(model)
        window_top_m = cfg.eval.window_top_m if window_top_m is None else window_top_m
        if window_top_m is not None and (isinstance(window_top_m, bool)
                                         or not isinstance(window_top_m, int) or window_top_m < 1):
            raise ValueError(f"window_top_m = {window_top_m!r}, expected an integer >= 1 "
                             f"(windows through the 2D stage) or None (every window)")
        if window_top_m is not None and not head:
            raise ValueError(f"window_top_m = {window_top_m}: the model has no window_presence "
                             f"head to rank windows by (train it with model.window_head)")
        stride_seconds = None
        if window_seconds is None:
            window_seconds = cfg.eval.window_seconds
            window_overlap_seconds = (window_overlap_seconds if window_overlap_seconds
                                      is not None else cfg.eval.window_overlap_seconds)
        if window_seconds is not None:
            window_seconds, stride_seconds = windowing.check_window(window_seconds,
                                                                    window_overlap_seconds)

        meta = dict(metadata or {})
        meta.update(
            preset=cfg.name, dataset=cfg.data.dataset, top_k=top_k, nms_threshold=nms_threshold,
            num_clips=m.num_clips, num_sample_clips=m.num_sample_clips, input_size=m.input_size,
            word_dim=m.word_dim, num_scale_layers=list(m.num_scale_layers),
            normalize=bool(cfg.data.normalize), vocabulary_size=len(vocabulary) - 2,
            window_seconds=window_seconds, window_stride_seconds=stride_seconds,
            window_batch=window_batch, window_head=head, window_top_m=window_top_m)
        # Recorded facts, saved as variables (tf.Module tracks them).
        self.top_k = tf.Variable(top_k, trainable=False, name="top_k")
        self.nms_threshold = tf.Variable(nms_threshold, trainable=False, dtype=tf.float64,
                                         name="nms_threshold")
        self.num_clips = tf.Variable(m.num_clips, trainable=False, name="num_clips")
        self.num_sample_clips = tf.Variable(m.num_sample_clips, trainable=False,
                                            name="num_sample_clips")
        self.input_size = tf.Variable(m.input_size, trainable=False, name="input_size")
        self.word_dim = tf.Variable(m.word_dim, trainable=False, name="word_dim")
        self.preset = tf.Variable(cfg.name, trainable=False, name="preset")
        self.metadata_json = tf.Variable(json.dumps(meta, sort_keys=True),
                                         trainable=False, name="metadata_json")

        # Words -> ids: vocabulary[k] -> k for k >= 2, unknown -> 1, "" padding -> 0 (checks
        # the vocabulary's first words and that none repeats).
        self.word_table = word_table(vocabulary)
        self.word_vectors = tf.Variable(vectors, trainable=False, name="word_vectors")
        # The model's weights; the functions below capture them.
        self.model_variables = [getattr(v, "value", v) for v in model.variables]

        tokenizer = QueryTokenizer(name="query_tokenizer")
        preset, vocabulary_size = cfg.name, len(vocabulary) - 2
        mask = tf.constant(valid_mask(m.num_clips, m.num_scale_layers))  # (N, N)

        def checked_inputs(query, video_features, duration):
            """The checked model inputs: word vectors, query mask, raw features."""
            shape_checks = validation.check_shapes(query, video_features, duration,
                                                   m.input_size, preset)
            with tf.control_dependencies(shape_checks):
                value_checks = validation.check_values(video_features, duration)
            with tf.control_dependencies(value_checks):
                tokens = tokenizer(tf.identity(query))  # (B, L) padded with ""
                ids = word_ids(self.word_table, tokens)  # (B, L)
                query_checks = validation.check_queries(query, tokens, ids, UNK_ID,
                                                        vocabulary_size)
            with tf.control_dependencies(query_checks):
                features = tf.ensure_shape(tf.identity(video_features), [None, None, m.input_size])
                return (tf.gather(self.word_vectors, ids),  # (B, L, word_dim)
                        tf.cast(ids != PAD_ID, tf.float32),  # (B, L)
                        features)

        coarse = presence_model(model) if head else None

        def model_inputs(word_vectors, query_mask, features):
            clips = model_clips(features, m.num_sample_clips, cfg.data.normalize)  # (B, S, D)
            return {"word_vectors": word_vectors, "query_mask": query_mask, "clip_features": clips}

        def probabilities(word_vectors, query_mask, features, calibrated=False):
            """Joint probabilities (B, N, N) of raw clip features (B, T, D), one video each;
            `calibrated` (windows, with a head): times the window's presence probability."""
            outputs = model(model_inputs(word_vectors, query_mask, features), training=False)
            logits = score_output(outputs)  # (B, N, N)
            prob = tf.sigmoid(tf.cast(logits, tf.float32)) * mask  # (B, N, N)
            if calibrated and head:
                presence = tf.sigmoid(tf.cast(outputs["window_presence"], tf.float32))  # (B,)
                prob = prob * presence[:, None, None]
            with tf.control_dependencies(validation.check_scores(prob)):
                return tf.identity(prob)

        def joint_probabilities(query, video_features, duration):
            return probabilities(*checked_inputs(query, video_features, duration))

        def whole_video_moments(query, video_features, duration):
            prob = joint_probabilities(query, video_features, duration)
            return top_moments(prob, duration, m.num_clips, nms_threshold, top_k)

        def windowed_moments(query, video_features, duration):
            word_vectors, query_mask, features = checked_inputs(query, video_features, duration)

            def query_of(row, count):
                return (tf.repeat(word_vectors[row:row + 1], count, axis=0),
                        tf.repeat(query_mask[row:row + 1], count, axis=0))

            def score_windows(row, clips):  # (C, n, D) windows of query `row`'s video
                return probabilities(*query_of(row, tf.shape(clips)[0]), clips, calibrated=True)

            def score_presence(row, clips):  # (C,) presence probabilities, no 2D stage
                inputs = model_inputs(*query_of(row, tf.shape(clips)[0]), clips)
                return tf.sigmoid(tf.cast(coarse(inputs, training=False), tf.float32))

            return windowing.windowed_moments(
                score_windows, features, duration, window_seconds=window_seconds,
                stride_seconds=stride_seconds, num_clips=m.num_clips,
                nms_threshold=nms_threshold, top_k=top_k, window_batch=window_batch,
                score_presence=score_presence if window_top_m is not None else None,
                top_m=window_top_m)

        def serve(query, video_features, duration):
            if window_seconds is None:
                return whole_video_moments(query, video_features, duration)
            # Videos no longer than the window take the whole-video path, unchanged.
            return tf.cond(windowing.needs_windows(duration, window_seconds),
                           lambda: windowed_moments(query, video_features, duration),
                           lambda: whole_video_moments(query, video_features, duration))

        def score_map(query, video_features, duration):
            return {"score_map": joint_probabilities(query, video_features, duration)}

        self.serve = tf.function(serve, input_signature=INPUT_SIGNATURE)
        self.score_map = tf.function(score_map, input_signature=INPUT_SIGNATURE)

    @property
    def metadata(self) -> dict:
        """Every recorded fact (preset, top_k, nms_threshold, geometry, ...) as a dict."""
        return json.loads(self.metadata_json.numpy().decode("utf-8"))

