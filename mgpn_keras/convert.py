"""Conversion from the authors' PyTorch code: configs, state_dicts and a reference forward.

`load_reference_weights` maps every `state_dict` entry of Huntersxsx/MGPN onto the Keras
model (REFERENCE.md 5.1-5.2): PyTorch is channels-first, Keras channels-last, and the GRU
gate blocks are reordered from [r, z, n] to [z, r, h].
"""

from __future__ import annotations

import os
from typing import Any, Mapping

import numpy as np

from mgpn_keras import config as config_lib

# Entries that exist in reference checkpoints but take no part in the forward pass.
_IGNORED_SUFFIXES = ("num_batches_tracked",)
_IGNORED_PREFIXES = ("generator_layer.conv1d.",)

_DATASET_PRESETS = {"charades": "charades_i3d", "tacos": "tacos", "activitynet": "activitynet"}


# ----------------------------------------------------------------------------- configs


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def _number_list(value) -> list:
    if isinstance(value, str):
        return [float(v) if "." in v else int(v) for v in value.split(",") if v.strip()]
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def config_from_reference(flat) -> config_lib.Config:
    """A Config from a reference YAML's values.

    Args:
        flat: flattened keys as in `shared/fixtures/*_config.json`'s "config"
            (e.g. "MGPN.COARSE_GRAINED_ENCODER.PARAMS.FRAME.INPUT_SIZE"), a nested dict, or
            the path of a reference YAML file.
    """
    if isinstance(flat, (str, os.PathLike)):
        import yaml

        path = os.fspath(flat)
        if not os.path.exists(path):
            raise FileNotFoundError(f"reference config {path!r} does not exist")
        with open(path, encoding="utf-8") as f:
            flat = yaml.safe_load(f)
        if not isinstance(flat, Mapping):
            raise ValueError(f"reference config {path!r} is not a YAML mapping")
    if "config" in flat and isinstance(flat["config"], Mapping) and "meta" in flat:
        flat = flat["config"]  # a fixture's *_config.json
    flat = _flatten(flat)

    def get(key, default=None, required=True):
        if key in flat:
            return flat[key]
        if required and default is None:
            raise ValueError(f"reference config has no {key!r}")
        return default

    enc = "MGPN.COARSE_GRAINED_ENCODER.PARAMS."
    dataset = str(get("DATASET.NAME")).lower()
    if dataset not in _DATASET_PRESETS:
        raise ValueError(f"reference DATASET.NAME {get('DATASET.NAME')!r}; expected one of "
                         "Charades, TACoS, ActivityNet")
    base = _DATASET_PRESETS[dataset]
    if dataset == "charades" and "vgg" in str(get("DATASET.VIS_INPUT_TYPE", "", False)).lower():
        base = "charades_vgg"
    kernel, stride = int(get(enc + "FRAME.KERNEL_SIZE")), int(get(enc + "FRAME.STRIDE"))
    if kernel != stride:
        raise ValueError(f"reference FRAME.KERNEL_SIZE {kernel} != FRAME.STRIDE {stride}: "
                         "mgpn_keras pools with kernel = stride")
    hidden = int(get(enc + "FRAME.HIDDEN_SIZE"))
    for key in (enc + "GRU.TXT_HIDDEN_SIZE", enc + "GRU.VIS_HIDDEN_SIZE",
                "MGPN.CHOICE_COMPARISON_MODULE.PARAMS.OUTPUT_SIZE", "MGPN.PRED_INPUT_SIZE"):
        if key in flat and int(flat[key]) != hidden:
            raise ValueError(f"reference {key} = {flat[key]} differs from FRAME.HIDDEN_SIZE = "
                             f"{hidden}; mgpn_keras uses one hidden size")
    sample_clips = int(get("DATASET.NUM_SAMPLE_CLIPS", 256, False))
    target_stride = int(get("DATASET.TARGET_STRIDE", stride, False))
    if target_stride != stride:
        raise ValueError(f"reference DATASET.TARGET_STRIDE {target_stride} != FRAME.STRIDE {stride}")
    overrides = {
        "model": dict(
            input_size=int(get(enc + "FRAME.INPUT_SIZE")),
            word_dim=int(get(enc + "GRU.TXT_INPUT_SIZE", 300, False)),
            num_sample_clips=sample_clips,
            pool_stride=stride,
            num_clips=int(get(enc + "FRAME.NUM_CLIPS")),
            hidden_size=hidden,
            gru_layers=int(get(enc + "GRU.NUM_LAYERS")),
            num_scale_layers=[int(c) for c in _number_list(
                get("MGPN.CHOICE_GENERATOR.PARAMS.NUM_SCALE_LAYERS"))],
            use_position=bool(get(enc + "FRAME.USE_POSITION", False, False)),
        ),
        "loss": dict(min_iou=float(get("LOSS1.PARAMS.MIN_IOU", 0.5, False)),
                     max_iou=float(get("LOSS1.PARAMS.MAX_IOU", 1.0, False))),
        "train": dict(
            batch_size=int(get("TRAIN.BATCH_SIZE", 32, False)),
            epochs=int(get("TRAIN.MAX_EPOCH", 15, False)),
            learning_rate=float(get("TRAIN.LR", 1e-3, False)),
            lr_decay_epochs=[int(m) for m in _number_list(get("TRAIN.MILESTONES", [], False))],
            lr_decay=float(get("TRAIN.GAMMA", 0.1, False)),
        ),
        "eval": dict(
            nms_threshold=float(get("TEST.NMS_THRESH", 0.45, False)),
            recall=[int(r) for r in _number_list(get("TEST.RECALL", "1,5", False))],
            iou_thresholds=[float(t) for t in _number_list(get("TEST.TIOU", "0.3,0.5,0.7", False))],
            batch_size=int(get("TEST.BATCH_SIZE", 32, False)),
        ),
    }
    cfg = config_lib.preset(base, **overrides)
    cfg.name = base
    return cfg


# ----------------------------------------------------------------------------- weights


def _read_state_dict(source) -> dict[str, np.ndarray]:
    if isinstance(source, Mapping):
        return {k: np.asarray(v) for k, v in source.items()}
    path = os.fspath(source)
    if not os.path.exists(path):
        raise FileNotFoundError(f"reference weights {path!r} do not exist")
    if path.endswith(".npz"):
        try:
            with np.load(path, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
        except Exception as exc:  # noqa: BLE001 - name the file
            raise ValueError(f"reference weights {path!r} are not a readable .npz: {exc}") from None
    try:
        import torch
    except ImportError:
        raise ImportError(f"reading the PyTorch checkpoint {path!r} needs torch "
                          "(pip install torch), or save its state_dict as .npz") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - name the file
        raise ValueError(f"cannot read PyTorch checkpoint {path!r} with weights_only=True: {exc}") from None
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(state, Mapping) and key in state and isinstance(state[key], Mapping):
            state = state[key]
    if not isinstance(state, Mapping):
        raise ValueError(f"PyTorch checkpoint {path!r} holds a {type(state).__name__}, not a state_dict")
    return {k: v.detach().cpu().numpy() for k, v in state.items()}


def _gru_gates(w: np.ndarray) -> np.ndarray:
    """Rows [r, z, n] (PyTorch) -> [z, r, n] (Keras)."""
    r, z, n = np.split(w, 3, axis=0)
    return np.concatenate([z, r, n], axis=0)


class _Assigner:
    def __init__(self, state: dict[str, np.ndarray]):
        self.state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}
        self.used: set[str] = set()
        self.missing: list[str] = []

    def take(self, key: str) -> np.ndarray | None:
        if key not in self.state:
            self.missing.append(key)
            return None
        self.used.add(key)
        return self.state[key]

    def assign(self, variable, key: str, transform=lambda a: a):
        value = self.take(key)
        if value is None:
            return
        value = np.asarray(transform(value.astype(np.float32)))
        if tuple(value.shape) != tuple(variable.shape):
            raise ValueError(f"reference weight {key!r}: shape {tuple(self.state[key].shape)} converts "
                             f"to {tuple(value.shape)}, but {variable.path} expects {tuple(variable.shape)}")
        variable.assign(value)

    def dense(self, layer, prefix: str, kind: str = "linear"):
        """Linear (out, in), Conv1d (out, in, 1) or Conv2d (out, in, 1, 1) onto a Dense."""
        squeeze = {"linear": lambda w: w.T, "conv1d": lambda w: w[:, :, 0].T,
                   "conv2d": lambda w: w[:, :, 0, 0].T}[kind]
        self.assign(layer.kernel, prefix + ".weight", squeeze)
        self.assign(layer.bias, prefix + ".bias")

    def bidirectional_rnn(self, encoder, prefix: str):
        for k, layer in enumerate(encoder.layers_):
            for direction, suffix in ((layer.forward_layer, ""), (layer.backward_layer, "_reverse")):
                cell = direction.cell
                self.assign(cell.kernel, f"{prefix}.weight_ih_l{k}{suffix}", lambda w: _gru_gates(w).T)
                self.assign(cell.recurrent_kernel, f"{prefix}.weight_hh_l{k}{suffix}",
                            lambda w: _gru_gates(w).T)
                b_ih = self.take(f"{prefix}.bias_ih_l{k}{suffix}")
                b_hh = self.take(f"{prefix}.bias_hh_l{k}{suffix}")
                if b_ih is not None and b_hh is not None:
                    bias = np.stack([_gru_gates(b_ih), _gru_gates(b_hh)]).astype(np.float32)
                    if bias.shape != tuple(cell.bias.shape):
                        raise ValueError(f"reference weights {prefix}.bias_*_l{k}{suffix}: shape "
                                         f"{bias.shape} after conversion, {cell.bias.path} expects "
                                         f"{tuple(cell.bias.shape)}")
                    cell.bias.assign(bias)


def load_reference_weights(model, source) -> None:
    """Load a reference `state_dict` into a model from `build_mgpn`.

    Args:
        model: a Keras MGPN model (default switches, GRU encoders).
        source: a dict of arrays, a `.npz` (the fixtures' layout) or a PyTorch checkpoint
            (`.pkl`/`.pt`/`.pth`, read with torch when installed and `weights_only=True`).

    Raises:
        ValueError naming any missing, unexpected or mis-shaped key. The unused
        `generator_layer.conv1d.*` and BatchNorm `num_batches_tracked` are ignored.
    """
    a = _Assigner(_read_state_dict(source))
    layer = model.get_layer
    clip = layer("clip_encoder")
    a.dense(clip.projection, "encoder_layer.frame_encoder.vis_conv", "conv1d")
    if clip.use_position:
        a.assign(clip.position_embedding, "encoder_layer.frame_encoder.pos_embed.pos_embed.weight")
    for name, prefix in (("video_encoder", "encoder_layer.vis_encoder"),
                         ("query_encoder", "encoder_layer.txt_encoder")):
        encoder = layer(name)
        if encoder.kind != "gru":
            raise ValueError(f"reference weights fit GRU encoders; {name} is {encoder.kind!r}")
        a.bidirectional_rnn(encoder, prefix)
    co = layer("co_attention")
    a.dense(co.query_score, "interactor_layer1.txt_linear1")
    a.dense(co.video_score, "interactor_layer1.vis_conv", "conv1d")
    fq = layer("fine_query_encoder")
    p = "finegrained_layer.phrase_encode"
    a.dense(fq.unigram, p + ".unigram_conv", "conv1d")
    for conv, key in ((fq.bigram, p + ".bigram_conv"), (fq.trigram, p + ".trigram_conv")):
        a.assign(conv.kernel, key + ".weight", lambda w: w.transpose(2, 1, 0))
        a.assign(conv.bias, key + ".bias")
    a.dense(fq.projection, "finegrained_layer.txt_linear")
    fv = layer("fine_video_encoder")
    a.dense(fv.inner, "finegrained_layer.feed_forward.w_1")
    a.dense(fv.outer, "finegrained_layer.feed_forward.w_2")
    a.assign(fv.norm.gain, "finegrained_layer.vis_sublayer.norm.a_2")
    a.assign(fv.norm.bias, "finegrained_layer.vis_sublayer.norm.b_2")
    gate = layer("conditioned_gate")
    a.dense(gate.query_gate, "interactor_layer2.txt_linear_b1")
    a.dense(gate.video_gate, "interactor_layer2.vis_linear_b2")
    comparison = layer("comparison")
    a.dense(comparison.mix, "relation_layer.conv_layer", "conv2d")
    for k, (conv, norm) in enumerate(zip(comparison.convs, comparison.norms), start=1):
        prefix = f"relation_layer.conv_block{k}"
        a.assign(conv.kernel, prefix + ".conv.weight", lambda w: w.transpose(2, 3, 1, 0))
        a.assign(conv.bias, prefix + ".conv.bias")
        a.assign(norm.gamma, prefix + ".bn.weight")
        a.assign(norm.beta, prefix + ".bn.bias")
        a.assign(norm.moving_mean, prefix + ".bn.running_mean")
        a.assign(norm.moving_variance, prefix + ".bn.running_var")
    a.dense(layer("ranker").score, "pred_layer", "conv2d")

    unexpected = sorted(k for k in a.state if k not in a.used
                        and not k.endswith(_IGNORED_SUFFIXES) and not k.startswith(_IGNORED_PREFIXES))
    problems = []
    if a.missing:
        problems.append(f"missing keys {a.missing}")
    if unexpected:
        problems.append(f"unexpected keys {unexpected}")
    if problems:
        raise ValueError("reference state_dict does not fit the model: " + "; ".join(problems))


# ----------------------------------------------------------------------------- forward

_CHANNELS_FIRST_1D = ("vis_encoded", "vis_fused", "vis_finegrained")
_CHANNELS_FIRST_2D = ("boundary_map", "content_map", "fused_map", "relation_map")
_TOKEN_MAJOR = ("txt_encoded", "txt_fused", "txt_finegrained")


def reference_forward(config, weights, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run the converted model in inference mode and return every intermediate.

    Args:
        config: a Config, or anything `config_from_reference` reads.
        weights: a reference state_dict (see `load_reference_weights`).
        inputs: `textual_input` (B, L, word_dim), `textual_mask` (B, L, 1) and
            `visual_input` (B, num_sample_clips, D), as in the fixtures.

    Returns:
        The fixture's keys in the reference's layout: vis_encoded (B, C, N), txt_encoded
        (B, L, C), vis_fused, txt_fused, boundary_map (B, C, N, N), content_map, map_mask
        (B, 1, N, N) bool, vis_finegrained, txt_finegrained, fused_map (B, 2C, N, N),
        relation_map (B, C, N, N), score_map (B, 1, N, N).
    """
    import keras

    from mgpn_keras.model import mgpn_graph, valid_cell_mask

    cfg = config if isinstance(config, config_lib.Config) else config_from_reference(config)
    graph_inputs, tensors = mgpn_graph(cfg)
    model = keras.Model(graph_inputs, tensors, name="mgpn_intermediates")
    load_reference_weights(model, weights)
    feed = {
        "word_vectors": np.asarray(inputs["textual_input"], np.float32),
        "query_mask": np.asarray(inputs["textual_mask"], np.float32)[..., 0],
        "clip_features": np.asarray(inputs["visual_input"], np.float32),
    }
    out = {k: keras.ops.convert_to_numpy(v) for k, v in model(feed, training=False).items()}
    result = {}
    for key in _CHANNELS_FIRST_1D:
        result[key] = out[key].transpose(0, 2, 1)
    for key in _CHANNELS_FIRST_2D:
        result[key] = out[key].transpose(0, 3, 1, 2)
    for key in _TOKEN_MAJOR:
        result[key] = out[key]
    batch = feed["word_vectors"].shape[0]
    mask = valid_cell_mask(cfg).astype(bool)
    result["map_mask"] = np.broadcast_to(mask[None, None], (batch, 1) + mask.shape).copy()
    result["score_map"] = out["score_map"][:, None]
    return result
