"""The MGPN network as a Keras functional model (paper Sec. 3.2-3.8)."""

from __future__ import annotations

import keras
from keras import ops

from mgpn_keras.config import Config, ModelConfig
from mgpn_keras.geometry import valid_mask
from mgpn_keras.layers.choice_ranker import ChoiceRanker
from mgpn_keras.layers.clip_encoder import ClipEncoder
from mgpn_keras.layers.co_attention import CoAttention
from mgpn_keras.layers.comparison_variants import build_comparison
from mgpn_keras.layers.conditioned_gate import ConditionedGate
from mgpn_keras.layers.fine_query_encoder import FineQueryEncoder
from mgpn_keras.layers.initializers import dense
from mgpn_keras.layers.moment_map import MomentMap2D
from mgpn_keras.layers.residual_feed_forward import ResidualFeedForward
from mgpn_keras.layers.sequence_encoder import SequenceEncoder

INPUT_NAMES = ("word_vectors", "query_mask", "clip_features")


def _model_config(config: Config | ModelConfig) -> ModelConfig:
    return config.model if isinstance(config, Config) else config


def mgpn_graph(config: Config | ModelConfig) -> tuple[dict, dict]:
    """Build the symbolic graph; returns (inputs, tensors) with every named stage.

    `tensors` holds, channels-last, the stages the reference names: vis_encoded,
    txt_encoded, vis_fused, txt_fused, boundary_map, content_map, vis_finegrained,
    txt_finegrained, fused_map, relation_map and score_map; and moment_map_input, the
    clip features the moment map is built from (vis_fused, or vis_finegrained when
    use_fine_grained is on and use_conditioned_interaction off).
    """
    m = _model_config(config)
    n, c, scales = m.num_clips, m.hidden_size, m.num_scale_layers
    inputs = {
        "word_vectors": keras.Input((None, m.word_dim), name="word_vectors"),
        "query_mask": keras.Input((None,), name="query_mask"),
        "clip_features": keras.Input((m.num_sample_clips, m.input_size), name="clip_features"),
    }
    t = {}
    clips = ClipEncoder(c, m.pool_stride, n, m.use_position, m.dropout, name="clip_encoder")(
        inputs["clip_features"])  # (B, N, C)
    t["vis_encoded"] = SequenceEncoder(c, m.gru_layers, m.coarse_encoder, name="video_encoder")(clips)
    t["txt_encoded"] = SequenceEncoder(c, m.gru_layers, m.coarse_encoder, name="query_encoder")(
        inputs["word_vectors"], mask=inputs["query_mask"])  # (B, L, C)
    t["vis_fused"], t["txt_fused"] = CoAttention(name="co_attention")(
        [t["vis_encoded"], t["txt_encoded"], inputs["query_mask"]])
    # Fine-grained encoders without the conditioned interaction (Table 3, model 2): the
    # fine-grained video features feed the moment map, as in the reference's alternative
    # `generator_layer(vis_finegrained)`; the fine-grained query would reach no output.
    fine_map = m.use_fine_grained and not m.use_conditioned_interaction
    if fine_map:
        t["vis_finegrained"] = ResidualFeedForward(c, m.dropout, name="fine_video_encoder")(t["vis_fused"])
        t["txt_finegrained"] = t["txt_fused"]
    t["moment_map_input"] = t["vis_finegrained"] if fine_map else t["vis_fused"]  # (B, N, C)
    boundary, content = MomentMap2D(n, scales, name="moment_map")(t["moment_map_input"])  # (B, N, N, C)
    # Candidate features (paper Fig. 4): one kind stands in for the other when disabled.
    if m.candidate_features == "content":
        boundary = content
    elif m.candidate_features == "boundary":
        content = boundary
    t["boundary_map"], t["content_map"] = boundary, content
    if m.use_fine_grained and not fine_map:
        t["vis_finegrained"] = ResidualFeedForward(c, m.dropout, name="fine_video_encoder")(t["vis_fused"])
        t["txt_finegrained"] = FineQueryEncoder(c, name="fine_query_encoder")(t["txt_fused"])
    elif not m.use_fine_grained:
        t["vis_finegrained"], t["txt_finegrained"] = t["vis_fused"], t["txt_fused"]
    if m.use_conditioned_interaction:
        t["fused_map"] = ConditionedGate(c, n, scales, name="conditioned_gate")(
            [boundary, content, t["vis_finegrained"], t["txt_finegrained"], inputs["query_mask"]])
    else:
        t["fused_map"] = keras.layers.Concatenate(name="plain_fusion")([boundary, content])
    if m.use_choice_comparison:
        t["relation_map"] = build_comparison(m)([t["fused_map"], boundary, content])
    else:
        t["relation_map"] = dense(c, 2 * c, name="comparison_projection", activation="relu")(t["fused_map"])
    # float32 logits also under a mixed-precision policy.
    t["score_map"] = ChoiceRanker(n, scales, name="ranker", dtype="float32")(t["relation_map"])
    return inputs, t


def build_mgpn(config: Config | ModelConfig, name: str = "mgpn") -> keras.Model:
    """The MGPN functional model.

    Inputs (a dict):
        word_vectors: `(batch, tokens, word_dim)` float32, zero at padding.
        query_mask: `(batch, tokens)`, 1 for real tokens, 0 for padding.
        clip_features: `(batch, num_sample_clips, input_size)` float32.
    Output:
        score logits `(batch, N, N)`; row = start clip, column = end clip; exactly 0 on
        cells that are not candidates (see `valid_cell_mask`).
    """
    inputs, tensors = mgpn_graph(config)
    return keras.Model(inputs, tensors["score_map"], name=name)


def valid_cell_mask(config: Config | ModelConfig):
    """The (N, N) float32 mask of candidate cells, a constant of the configuration."""
    m = _model_config(config)
    return valid_mask(m.num_clips, m.num_scale_layers)


def count_trainable_parameters(model: keras.Model) -> int:
    return int(sum(int(ops.size(w)) for w in model.trainable_weights))
