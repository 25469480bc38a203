"""Sparse inference: the 2D stage of MGPN computed at the candidate cells only.

The dense model (`mgpn_keras.model.build_mgpn`) computes every cell of the N x N map,
although only the valid cells are candidates (2548 of 16384 on TACoS, 1104 of 4096 on
ActivityNet, 428 of 1024 on Charades I3D) and everything else is masked to zero. In
inference, every value the ranker reads depends only on valid cells: each block's input
is masked, and each block's output is read only at valid cells. So the moment map, the
conditioned gate, the choice comparison and the ranker can all work on `(batch, V, C)`
values of the V valid cells, with outputs equal to the dense model's (to float rounding).

Training keeps the dense model: BatchNorm's batch statistics there cover every cell,
the invalid ones included, as in the reference.

Example:
    dense = build_mgpn(cfg)                      # train this one
    sparse = to_sparse_inference(dense, cfg)     # same weights, same inputs and output
    logits = sparse.predict(inputs)              # (batch, N, N), zero off the candidates
"""

from __future__ import annotations

import keras

from mgpn_keras.config import Config, ModelConfig
from mgpn_keras.layers.initializers import dense
from mgpn_keras.layers.moment_map import MomentMap2D
from mgpn_keras.layers.sparse_choice_ranker import SparseChoiceRanker
from mgpn_keras.layers.sparse_conditioned_gate import SparseConditionedGate
from mgpn_keras.layers.sparse_group_conv_comparison import SparseGroupConvComparison
from mgpn_keras.model import INPUT_NAMES, mgpn_graph


def _model_config(config: Config | ModelConfig) -> ModelConfig:
    return config.model if isinstance(config, Config) else config


def build_sparse_inference_model(config: Config | ModelConfig, weights_from: keras.Model | None = None,
                                 groups_per_step: int = 1, name: str = "mgpn_sparse") -> keras.Model:
    """An inference-only MGPN whose 2D stage runs at the valid cells only.

    The inputs, the output and every layer name and weight are those of `build_mgpn`
    (the 1D stages are the same layers; the 2D layers are sparse subclasses of the dense
    ones), so `sparse.set_weights(dense.get_weights())`, `load_reference_weights` and
    `model.load_weights` of a dense checkpoint all work.

    Args:
        config: a Config or ModelConfig (any `model.comparison` but `group_conv` is refused).
        weights_from: a dense model from `build_mgpn(config)` to copy the weights from.
        groups_per_step: groups of the grouped convolutions computed together (see
            `SparseGroupConvComparison`); trades memory for speed.
        name: the model's name.

    Returns:
        A functional model: inputs `word_vectors (batch, tokens, word_dim)`, `query_mask
        (batch, tokens)`, `clip_features (batch, num_sample_clips, input_size)`; output the
        score logits `(batch, N, N)`, exactly 0 on cells that are not candidates. Calling it
        with `training=True` raises.
    """
    m = _model_config(config)
    if m.use_choice_comparison and m.comparison != "group_conv":
        raise ValueError(f"sparse inference implements model.comparison = 'group_conv'; "
                         f"got {m.comparison!r}")
    n, c, scales = m.num_clips, m.hidden_size, m.num_scale_layers
    # The 1D stages are those of the dense graph; its dense 2D tail is left unconnected.
    inputs, t = mgpn_graph(m)
    clips = t.get("moment_map_input", t["vis_fused"])  # what the dense moment map reads, (B, N, C)
    boundary, content = MomentMap2D(n, scales, sparse=True, name="moment_map")(clips)  # (B, V, C)
    if m.candidate_features == "content":
        boundary = content
    elif m.candidate_features == "boundary":
        content = boundary
    if m.use_conditioned_interaction:
        fused = SparseConditionedGate(c, n, scales, name="conditioned_gate")(
            [boundary, content, t["vis_finegrained"], t["txt_finegrained"], inputs["query_mask"]])
    else:
        fused = keras.layers.Concatenate(name="plain_fusion")([boundary, content])  # (B, V, 2C)
    if m.use_choice_comparison:
        relation = SparseGroupConvComparison(
            c, n, scales, m.groups, m.kernel_size, m.synchronized_batch_norm,
            groups_per_step=groups_per_step, name="comparison")([fused, boundary, content])
    else:
        relation = dense(c, 2 * c, name="comparison_projection", activation="relu")(fused)  # (B, V, C)
    score = SparseChoiceRanker(n, scales, name="ranker", dtype="float32")(relation)  # (B, N, N)
    model = keras.Model({k: inputs[k] for k in INPUT_NAMES}, score, name=name)
    if weights_from is not None:
        copy_weights(weights_from, model)
    return model


def to_sparse_inference(model: keras.Model, config: Config | ModelConfig, groups_per_step: int = 1) -> keras.Model:
    """The sparse inference twin of a dense `build_mgpn(config)` model, with its weights."""
    return build_sparse_inference_model(config, weights_from=model, groups_per_step=groups_per_step,
                                        name=f"{model.name}_sparse")


def copy_weights(source: keras.Model, target: keras.Model) -> None:
    """Copy every weighted layer's weights from `source` to the same-named layer of `target`.

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
