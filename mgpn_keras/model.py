"""The MGPN network as a Keras functional model (paper Sec. 3.2-3.8).

One definition with two layouts of the 2D stage (`mgpn_keras.valid_cells.layout`): "dense"
maps for training and parity, "valid_cells" for inference. Both have the same layers and weights,
so weights saved from one load into the other.

Example:
    model = build_mgpn(cfg)                                # dense: train this one
    fast = build_mgpn(cfg, layout=cfg.eval.layout)         # inference ("auto" by default)
    fast.set_weights(model.get_weights())                  # or fast.load_weights(path)
"""

from __future__ import annotations

import keras
from keras import ops

from mgpn_keras.config import Config, ModelConfig, model_config
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
from mgpn_keras.layers.window_presence_head import WindowPresenceHead
from mgpn_keras.valid_cells.geometry import valid_mask
from mgpn_keras.valid_cells.layout import resolve_layout

INPUT_NAMES = ("word_vectors", "query_mask", "clip_features")


def mgpn_graph(config: Config | ModelConfig, layout: str | None = None, dtype=None) -> tuple[dict, dict]:
    """Build the symbolic graph; returns (inputs, tensors) with every named stage.

    `tensors` holds, channels-last, the stages the reference names: vis_encoded,
    txt_encoded, vis_fused, txt_fused, boundary_map, content_map, vis_finegrained,
    txt_finegrained, fused_map, relation_map and score_map; and moment_map_input, the
    clip features the moment map is built from (vis_fused, or vis_finegrained when
    use_fine_grained is on and use_conditioned_interaction off). In the "valid_cells"
    layout the 2D stages are `(batch, V, channels)` values at the valid cells.

    Args:
        config: a Config or ModelConfig.
        layout: "dense" (default), "valid_cells" or "auto"
            (`mgpn_keras.valid_cells.layout.resolve_layout`).
        dtype: a dtype policy (e.g. "mixed_bfloat16") for every layer but the ranker, which
            stays float32; None follows the global policy.
    """
    m = model_config(config)
    n, c, scales = m.num_clips, m.hidden_size, m.num_scale_layers
    layout = resolve_layout(m, layout)
    inputs = {
        "word_vectors": keras.Input((None, m.word_dim), name="word_vectors"),
        "query_mask": keras.Input((None,), name="query_mask"),
        "clip_features": keras.Input((m.num_sample_clips, m.input_size), name="clip_features"),
    }
    t = {}
    clips = ClipEncoder(c, m.pool_stride, n, m.use_position, m.dropout, name="clip_encoder", dtype=dtype)(
        inputs["clip_features"])  # (B, N, C)
    t["vis_encoded"] = SequenceEncoder(c, m.gru_layers, m.coarse_encoder, name="video_encoder", dtype=dtype)(clips)
    t["txt_encoded"] = SequenceEncoder(c, m.gru_layers, m.coarse_encoder, name="query_encoder", dtype=dtype)(
        inputs["word_vectors"], mask=inputs["query_mask"])  # (B, L, C)
    t["vis_fused"], t["txt_fused"] = CoAttention(name="co_attention", dtype=dtype)(
        [t["vis_encoded"], t["txt_encoded"], inputs["query_mask"]])
    # Fine-grained encoders without the conditioned interaction (Table 3, model 2): the
    # fine-grained video features feed the moment map, as in the reference's alternative
    # `generator_layer(vis_finegrained)`; the fine-grained query would reach no output.
    fine_map = m.use_fine_grained and not m.use_conditioned_interaction
    if fine_map:
        t["vis_finegrained"] = ResidualFeedForward(c, m.dropout, name="fine_video_encoder", dtype=dtype)(t["vis_fused"])
        t["txt_finegrained"] = t["txt_fused"]
    t["moment_map_input"] = t["vis_finegrained"] if fine_map else t["vis_fused"]  # (B, N, C)
    boundary, content = MomentMap2D(n, scales, layout=layout, name="moment_map", dtype=dtype)(
        t["moment_map_input"])  # (B, N, N, C) dense, (B, V, C) valid cells
    # Candidate features (paper Fig. 4): one kind stands in for the other when disabled.
    if m.candidate_features == "content":
        boundary = content
    elif m.candidate_features == "boundary":
        content = boundary
    t["boundary_map"], t["content_map"] = boundary, content
    if m.use_fine_grained and not fine_map:
        t["vis_finegrained"] = ResidualFeedForward(c, m.dropout, name="fine_video_encoder", dtype=dtype)(t["vis_fused"])
        t["txt_finegrained"] = FineQueryEncoder(c, name="fine_query_encoder", dtype=dtype)(t["txt_fused"])
    elif not m.use_fine_grained:
        t["vis_finegrained"], t["txt_finegrained"] = t["vis_fused"], t["txt_fused"]
    if m.use_conditioned_interaction:
        t["fused_map"] = ConditionedGate(c, n, scales, layout=layout, name="conditioned_gate", dtype=dtype)(
            [boundary, content, t["vis_finegrained"], t["txt_finegrained"], inputs["query_mask"]])
    else:
        t["fused_map"] = keras.layers.Concatenate(name="plain_fusion", dtype=dtype)([boundary, content])
    if m.use_choice_comparison:
        t["relation_map"] = build_comparison(m, layout=layout, dtype=dtype)([t["fused_map"], boundary, content])
    else:
        t["relation_map"] = dense(c, 2 * c, name="comparison_projection", activation="relu", dtype=dtype)(t["fused_map"])
    # float32 logits also under a mixed-precision policy: bfloat16's 8 bits of mantissa
    # would tie most of a query's candidates before NMS.
    t["score_map"] = ChoiceRanker(n, scales, layout=layout, name="ranker", dtype="float32")(
        t["relation_map"])  # (B, N, N) in both layouts
    if m.window_head:  # built last, so the other layers draw the same initial weights
        t["window_presence"] = WindowPresenceHead(c, name="window_presence", dtype=dtype)(
            [t["vis_fused"], t["txt_fused"], inputs["query_mask"]])  # (B,) logits
    return inputs, t


def build_mgpn(config: Config | ModelConfig, name: str = "mgpn", *, layout: str | None = None,
               dtype=None) -> keras.Model:
    """The MGPN functional model.

    Args:
        config: a Config or ModelConfig.
        name: the model's name.
        layout: the 2D stage's layout: "dense" (None, the default: training and parity),
            "valid_cells" (inference only) or "auto" (the one measured faster for the
            geometry; `mgpn_keras.valid_cells.layout`). Same weights in every layout.
        dtype: a dtype policy for every layer (e.g. "mixed_bfloat16"); the ranker, and so
            the logits, stay float32. None follows the global policy.

    Inputs (a dict):
        word_vectors: `(batch, tokens, word_dim)` float32, zero at padding.
        query_mask: `(batch, tokens)`, 1 for real tokens, 0 for padding.
        clip_features: `(batch, num_sample_clips, input_size)` float32.
    Output:
        score logits `(batch, N, N)` float32; row = start clip, column = end clip; exactly
        0 on cells that are not candidates (see `valid_cell_mask`). With
        `model.window_head`, a dict of those ("score_map") and "window_presence", `(batch,)`
        float32 logits that the clips hold the query's moment (`score_output` takes the map
        from either).
    """
    inputs, tensors = mgpn_graph(config, layout=layout, dtype=dtype)
    if model_config(config).window_head:
        outputs = {"score_map": tensors["score_map"],
                   "window_presence": tensors["window_presence"]}
        return keras.Model(inputs, outputs, name=name)
    return keras.Model(inputs, tensors["score_map"], name=name)


def score_output(outputs):
    """The score logits of a `build_mgpn` model's outputs, with or without a window head."""
    return outputs["score_map"] if isinstance(outputs, dict) else outputs


def has_window_head(model: keras.Model) -> bool:
    """Whether a `build_mgpn` model has the window_presence output."""
    return any(layer.name == "window_presence" for layer in model.layers)


def presence_model(model: keras.Model) -> keras.Model:
    """The part of a windowed-head model up to "window_presence" (no 2D stage), sharing its
    layers: the coarse pass of windowed retrieval.

    Raises:
        ValueError: `model` has no window head (model.window_head was off).
    """
    if not has_window_head(model):
        raise ValueError(f"model {model.name!r} has no window_presence head: build it with "
                         f"model.window_head = true")
    return keras.Model(model.inputs, model.get_layer("window_presence").output,
                       name=f"{model.name}_presence")


def model_layout(model: keras.Model) -> str:
    """The layout ("dense" or "valid_cells") of a model from `build_mgpn`."""
    return model.get_layer("ranker").layout


def inference_twin(model: keras.Model, config: Config | ModelConfig, layout: str | None = "auto",
                   dtype=None) -> keras.Model:
    """`model` in another layout or dtype policy, with a copy of its weights.

    Returns `model` itself when it already has that layout and policy, else a new
    `build_mgpn(config, layout=..., dtype=...)` model holding a copy of its weights (copied,
    not shared: call `copy_weights` again after training on).

    Args:
        model: a `build_mgpn(config)` model, in any layout.
        config: its Config or ModelConfig.
        layout: "auto" (default), "dense" or "valid_cells"; None is "dense".
        dtype: a dtype policy name; None keeps the model's own.
    """
    layout = resolve_layout(config, layout)
    current = model.get_layer("clip_encoder").dtype_policy.name
    policy = current if dtype is None else keras.dtype_policies.get(dtype).name
    if model_layout(model) == layout and policy == current:
        return model
    twin = build_mgpn(config, name=f"{model.name}_{layout}", layout=layout, dtype=policy)
    copy_weights(model, twin)
    return twin


def model_precision(model: keras.Model) -> str:
    """The dtype policy name of a `build_mgpn` model's layers (the ranker aside): "float32",
    "mixed_bfloat16", ..."""
    return model.get_layer("clip_encoder").dtype_policy.name


def copy_weights(source: keras.Model, target: keras.Model) -> None:
    """Copy every weight of `source` into the same-named layer of `target` (both from
    `build_mgpn` of one config, in any layouts).

    Raises:
        ValueError naming a layer that `source` lacks or whose weights differ in shape.
    """
    names = {layer.name for layer in source.layers}
    for layer in target.layers:
        if not layer.weights:
            continue
        if layer.name not in names:
            raise ValueError(f"copy_weights: {target.name} has layer {layer.name!r}, "
                             f"which {source.name} lacks; expected a model of the same config")
        values = source.get_layer(layer.name).get_weights()
        shapes = [tuple(w.shape) for w in layer.weights]
        if [tuple(v.shape) for v in values] != shapes:
            raise ValueError(f"copy_weights: layer {layer.name!r} has weights of shapes "
                             f"{[tuple(v.shape) for v in values]} in {source.name}, "
                             f"{target.name} expects {shapes}")
        layer.set_weights(values)


def valid_cell_mask(config: Config | ModelConfig):
    """The (N, N) float32 mask of candidate cells, a constant of the configuration."""
    m = model_config(config)
    return valid_mask(m.num_clips, m.num_scale_layers)


def count_trainable_parameters(model: keras.Model) -> int:
    return int(sum(int(ops.size(w)) for w in model.trainable_weights))
