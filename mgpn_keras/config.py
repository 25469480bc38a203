"""Configuration: plain dataclasses, one preset per data set.

The numbers of the presets are those of the authors' YAML files (Huntersxsx/MGPN,
`experiments/*/*.yaml`), as listed in `shared/REFERENCE.md`. User code says
`preset("tacos")` and never copies numbers.

Overrides use dotted keys (`"model.hidden_size"`) or, where a field name is unique
across sections, the bare name (`hidden_size`).
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import Any

from mgpn_keras.atomic import write_json, write_text

DATASET_NAMES = ("charades_sta", "tacos", "activitynet", "synthetic")
COARSE_ENCODERS = ("gru", "lstm", "transformer")
CANDIDATE_FEATURES = ("both", "content", "boundary")
COMPARISON_MODULES = ("group_conv", "stacked_conv", "non_local")
# Comparison modules that also have the valid-cell layout (mgpn_keras.valid_cells).
VALID_CELL_COMPARISONS = ("group_conv",)
# The 2D stage's layouts a layer takes, and the settings (`eval.layout`, `--layout`), which
# add "auto": the one that does less work for the geometry (mgpn_keras.valid_cells.layout).
LAYOUTS = ("dense", "valid_cells")
LAYOUT_SETTINGS = ("auto",) + LAYOUTS
# Dtype policies a model can be exported in (`mgpn export --precision`).
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


@dataclass
class ModelConfig:
    """Network settings (paper Sec. 3.2-3.8)."""

    input_size: int = 1024  # width of a clip feature
    word_dim: int = 300  # width of a word vector
    num_sample_clips: int = 256  # clips after `average_to_fixed_length`
    pool_stride: int = 8  # average-pool kernel = stride, 256 -> N
    num_clips: int = 32  # N, the side of the 2D map
    hidden_size: int = 256
    gru_layers: int = 2
    num_scale_layers: list[int] = field(default_factory=lambda: [15, 8])
    groups: int = 32
    kernel_size: int = 7
    use_position: bool = False  # learned position embedding (ActivityNet)
    dropout: float = 0.1
    # BatchNorm statistics all-reduced across replicas under tf.distribute, so that a
    # replicated step equals a single-device step on the same global batch. On one
    # device it makes no difference.
    synchronized_batch_norm: bool = True
    # Design-space switches (paper Tables 3-4, Figs. 4-5); the defaults are MGPN.
    coarse_encoder: str = "gru"
    use_fine_grained: bool = True
    use_conditioned_interaction: bool = True
    use_choice_comparison: bool = True
    candidate_features: str = "both"
    comparison: str = "group_conv"
    # Settings of the alternative comparison modules (used only when selected).
    stacked_conv_layers: int = 8  # 2D-TAN's K5L8 maps (Charades-STA, TACoS)
    stacked_conv_kernel: int = 5
    non_local_blocks: int = 2  # the reference's CHOICE_COMPARISON_MODULE.BLOCK_NUM
    # A second output, "window_presence": the logit that the window holds the query's
    # moment, from the co-attended features before the 2D stage (layers.window_presence_head).
    # Off in every preset: the reference has no such head.
    window_head: bool = False


@dataclass
class DataConfig:
    dataset: str = "charades_sta"
    feature_name: str = "i3d"
    normalize: bool = True  # per-clip L2 normalisation before averaging


@dataclass
class LossConfig:
    """Scaled-IoU binary cross-entropy (paper Sec. 3.9)."""

    min_iou: float = 0.5
    max_iou: float = 1.0


@dataclass
class TrainConfig:
    batch_size: int = 32  # the global batch
    epochs: int = 15
    learning_rate: float = 1e-3
    # 1-indexed epochs from which the learning rate is multiplied by `lr_decay`
    # once more. The reference steps its MultiStepLR at the start of each epoch,
    # so its milestone m takes effect from epoch m (REFERENCE.md 5.7).
    lr_decay_epochs: list[int] = field(default_factory=lambda: [7, 12])
    lr_decay: float = 0.1
    global_clipnorm: float = 10.0
    seed: int = 0
    shuffle_buffer: int = 4096
    backup_every_steps: int = 50  # a killed run loses at most this many batches
    jit_compile: bool = False  # XLA for the training step (helps on GPU)
    # Absent moments (datasets.absent_moments): this share of the training queries is paired
    # with a window of eval.window_seconds that does not hold its moment (another video, or
    # another part of its own), with an all-zero target map and a window_presence label of 0.
    absent_share: float = 0.0
    window_loss_weight: float = 1.0  # weight of the window_presence BCE beside the map's loss


@dataclass
class EvalConfig:
    nms_threshold: float = 0.45
    recall: list[int] = field(default_factory=lambda: [1, 5])
    iou_thresholds: list[float] = field(default_factory=lambda: [0.3, 0.5, 0.7])
    batch_size: int = 32
    best_metric: str = "R1@0.5"
    # The 2D stage's layout wherever the model only infers (evaluation, the per-epoch
    # evaluation, export, predict): "auto" (the one measured faster for the preset's
    # geometry), "dense" or "valid_cells". Training always uses "dense". See
    # mgpn_keras.valid_cells.layout.
    layout: str = "auto"
    # Long videos (mgpn_keras.retrieval.windowing): a video longer than window_seconds is cut
    # into windows of that length, overlapping by window_overlap_seconds, and their moments
    # merged. None: twice the p99 of the training moments' lengths, which `mgpn prepare`
    # records (mgpn_keras.datasets.durations says why), and an overlap of half a window.
    window_seconds: float | None = None
    window_overlap_seconds: float | None = None
    window_batch: int = 16  # windows per model call: bounds memory on a two-hour video
    # Coarse pass (a model with model.window_head): every window's window_presence first, the
    # 2D stage only on the window_top_m most probable windows. None: every window.
    window_top_m: int | None = None


@dataclass
class Config:
    name: str = "charades_i3d"
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def validate(self) -> "Config":
        validate(self)
        return self


_SECTIONS = {
    "model": ModelConfig,
    "data": DataConfig,
    "loss": LossConfig,
    "train": TrainConfig,
    "eval": EvalConfig,
}

_PRESETS: dict[str, dict[str, Any]] = {
    "charades_i3d": {
        "model": dict(input_size=1024, pool_stride=8, num_clips=32, gru_layers=2,
                      num_scale_layers=[15, 8]),
        "data": dict(dataset="charades_sta", feature_name="i3d"),
        "loss": dict(min_iou=0.5, max_iou=1.0),
        "train": dict(batch_size=32, epochs=15, lr_decay_epochs=[7, 12]),
        "eval": dict(nms_threshold=0.45, iou_thresholds=[0.3, 0.5, 0.7], batch_size=32),
    },
    "charades_vgg": {
        "model": dict(input_size=4096, pool_stride=16, num_clips=16, gru_layers=2,
                      num_scale_layers=[15]),
        "data": dict(dataset="charades_sta", feature_name="vgg"),
        "loss": dict(min_iou=0.5, max_iou=1.0),
        "train": dict(batch_size=32, epochs=15, lr_decay_epochs=[5, 12]),
        "eval": dict(nms_threshold=0.44, iou_thresholds=[0.3, 0.5, 0.7], batch_size=32),
    },
    "tacos": {
        "model": dict(input_size=4096, pool_stride=2, num_clips=128, gru_layers=3,
                      num_scale_layers=[15, 8, 8, 8]),
        "data": dict(dataset="tacos", feature_name="c3d"),
        "loss": dict(min_iou=0.3, max_iou=0.7),
        # Milestones [16, 19] with 15 epochs: the reference never decays on TACoS.
        "train": dict(batch_size=32, epochs=15, lr_decay_epochs=[16, 19]),
        "eval": dict(nms_threshold=0.40, iou_thresholds=[0.1, 0.3, 0.5, 0.7], batch_size=32),
    },
    "activitynet": {
        "model": dict(input_size=500, pool_stride=4, num_clips=64, gru_layers=2,
                      num_scale_layers=[15, 8, 8], use_position=True),
        "data": dict(dataset="activitynet", feature_name="c3d"),
        "loss": dict(min_iou=0.5, max_iou=1.0),
        "train": dict(batch_size=64, epochs=15, lr_decay_epochs=[5, 8]),
        "eval": dict(nms_threshold=0.52, iou_thresholds=[0.3, 0.5, 0.7], batch_size=64),
    },
    # The embedded synthetic benchmark (mgpn_keras.datasets.synthetic): small enough to
    # train in minutes on 2 CPU cores, the same architecture at a smaller size.
    "synthetic": {
        "model": dict(input_size=128, word_dim=50, num_sample_clips=64, pool_stride=4,
                      num_clips=16, hidden_size=64, gru_layers=1, num_scale_layers=[15],
                      groups=8, kernel_size=5),
        "data": dict(dataset="synthetic", feature_name="synthetic"),
        "loss": dict(min_iou=0.5, max_iou=1.0),
        "train": dict(batch_size=32, epochs=8, lr_decay_epochs=[7]),
        "eval": dict(nms_threshold=0.45, iou_thresholds=[0.3, 0.5, 0.7], batch_size=64),
    },
}

PRESET_NAMES = tuple(_PRESETS)

# `train.py --long-videos`: training that sees absent moments, with a window head, and the
# coarse pass at retrieval (docs/long_video.md has the measurements behind the values).
LONG_VIDEO_SETTINGS = {
    "model.window_head": True,
    "train.absent_share": 0.3,
    "train.window_loss_weight": 0.05,
    "eval.window_top_m": 2,
}


def preset(name: str, **overrides: Any) -> Config:
    """Return the config of a named preset, with optional overrides.

    Args:
        name: one of `PRESET_NAMES`.
        **overrides: `section={"field": value}` dicts, or bare field names that are
            unique across sections (`hidden_size=128`). Dotted keys can be passed
            through `apply_overrides`.
    """
    if name not in _PRESETS:
        raise ValueError(f"unknown preset {name!r}; expected one of {list(PRESET_NAMES)}")
    cfg = from_dict({"name": name, **_PRESETS[name]}, validate_config=False)
    flat: dict[str, Any] = {}
    for key, value in overrides.items():
        if key in _SECTIONS and isinstance(value, dict):
            flat.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            flat[key] = value
    return apply_overrides(cfg, flat)


def _resolve_key(key: str) -> tuple[str, str]:
    if "." in key:
        section, name = key.split(".", 1)
        if section not in _SECTIONS:
            raise ValueError(f"config key {key!r}: unknown section {section!r}; "
                             f"expected one of {list(_SECTIONS)}")
        fields = {f.name for f in dataclasses.fields(_SECTIONS[section])}
        if name not in fields:
            raise ValueError(f"config key {key!r}: section {section!r} has no field {name!r}; "
                             f"expected one of {sorted(fields)}")
        return section, name
    owners = [s for s, cls in _SECTIONS.items()
              if key in {f.name for f in dataclasses.fields(cls)}]
    if len(owners) == 1:
        return owners[0], key
    if not owners:
        raise ValueError(f"unknown config key {key!r}; use 'section.field' with a section "
                         f"in {list(_SECTIONS)}")
    raise ValueError(f"config key {key!r} is ambiguous (in {owners}); write it as "
                     f"'{owners[0]}.{key}'")


def _coerce(section: str, name: str, value: Any, current: Any) -> Any:
    """Parse strings from the command line into the field's type."""
    if not isinstance(value, str) or isinstance(current, str):
        return value
    try:
        import yaml

        parsed = yaml.safe_load(value)
    except Exception as exc:  # noqa: BLE001 - report the key, not a YAML traceback
        raise ValueError(f"config key '{section}.{name}': cannot parse {value!r}: {exc}") from None
    return parsed


def apply_overrides(cfg: Config, overrides: dict[str, Any]) -> Config:
    """Return a copy of `cfg` with `{"section.field" or "field": value}` applied."""
    data = cfg.to_dict()
    for key, value in overrides.items():
        section, name = _resolve_key(key)
        data[section][name] = _coerce(section, name, value, data[section][name])
    return from_dict(data)


def from_dict(data: dict[str, Any], validate_config: bool = True) -> Config:
    """Build a Config from a nested dict, rejecting unknown keys."""
    if not isinstance(data, dict):
        raise ValueError(f"expected a mapping of 'name' and the sections {list(_SECTIONS)}, got "
                         f"{'nothing' if data is None else 'a ' + type(data).__name__}")
    unknown = set(data) - set(_SECTIONS) - {"name"}
    if unknown:
        raise ValueError(f"unknown config key(s) {sorted(unknown)}; expected 'name' and "
                         f"sections {list(_SECTIONS)}")
    kwargs: dict[str, Any] = {"name": data.get("name", "custom")}
    for section, cls in _SECTIONS.items():
        values = data.get(section, {}) or {}
        if not isinstance(values, dict):
            raise ValueError(f"config section {section!r} must be a mapping, got {values!r}")
        fields = {f.name for f in dataclasses.fields(cls)}
        bad = set(values) - fields
        if bad:
            raise ValueError(f"unknown key(s) {sorted(f'{section}.{k}' for k in bad)}; "
                             f"section {section!r} has {sorted(fields)}")
        kwargs[section] = cls(**values)
    cfg = Config(**kwargs)
    if validate_config:
        validate(cfg)
    return cfg


def _require(ok: bool, key: str, value: Any, allowed: str) -> None:
    if not ok:
        raise ValueError(f"config key {key!r} = {value!r} is invalid: {allowed}")


def valid_scale_span(num_scale_layers: list[int]) -> int:
    """Largest start-to-end offset that the sparse map's scale layers reach."""
    stride, offset = 1, 0
    for count in num_scale_layers:
        offset += count * stride
        stride *= 2
    return offset


def validate(cfg: Config) -> None:
    """Raise ValueError naming the key, the value and what is allowed."""
    m, t, e, lo = cfg.model, cfg.train, cfg.eval, cfg.loss
    for key in ("input_size", "word_dim", "num_sample_clips", "pool_stride", "num_clips",
                "hidden_size", "gru_layers", "groups", "kernel_size"):
        value = getattr(m, key)
        _require(isinstance(value, int) and not isinstance(value, bool) and value > 0,
                 f"model.{key}", value, "a positive integer")
    _require(m.hidden_size % 2 == 0, "model.hidden_size", m.hidden_size,
             "an even number (the bidirectional encoders give half to each direction)")
    _require(m.hidden_size % m.groups == 0, "model.hidden_size", m.hidden_size,
             f"a multiple of model.groups = {m.groups}")
    _require(m.num_sample_clips % m.pool_stride == 0, "model.num_sample_clips",
             m.num_sample_clips, f"a multiple of model.pool_stride = {m.pool_stride}")
    _require(m.num_sample_clips // m.pool_stride == m.num_clips, "model.num_clips", m.num_clips,
             f"model.num_sample_clips // model.pool_stride = "
             f"{m.num_sample_clips // m.pool_stride}")
    _require(m.kernel_size % 2 == 1, "model.kernel_size", m.kernel_size, "an odd integer")
    layers = m.num_scale_layers
    _require(isinstance(layers, (list, tuple)) and len(layers) > 0
             and all(isinstance(c, int) and c > 0 for c in layers),
             "model.num_scale_layers", layers, "a non-empty list of positive integers")
    span = valid_scale_span(list(layers))
    _require(span <= m.num_clips - 1, "model.num_scale_layers", list(layers),
             f"scale layers whose largest offset ({span}) fits num_clips - 1 = {m.num_clips - 1}")
    _require(0.0 <= m.dropout < 1.0, "model.dropout", m.dropout, "a value in [0, 1)")
    _require(m.coarse_encoder in COARSE_ENCODERS, "model.coarse_encoder", m.coarse_encoder,
             f"one of {list(COARSE_ENCODERS)}")
    _require(m.candidate_features in CANDIDATE_FEATURES, "model.candidate_features",
             m.candidate_features, f"one of {list(CANDIDATE_FEATURES)}")
    _require(m.comparison in COMPARISON_MODULES, "model.comparison", m.comparison,
             f"one of {list(COMPARISON_MODULES)}")
    for key in ("stacked_conv_layers", "stacked_conv_kernel", "non_local_blocks"):
        value = getattr(m, key)
        _require(isinstance(value, int) and not isinstance(value, bool) and value > 0,
                 f"model.{key}", value, "a positive integer")
    _require(m.stacked_conv_kernel % 2 == 1, "model.stacked_conv_kernel", m.stacked_conv_kernel,
             "an odd integer")
    _require(m.coarse_encoder != "transformer" or m.hidden_size % 4 == 0, "model.hidden_size",
             m.hidden_size, "a multiple of 4 with model.coarse_encoder = 'transformer' (4 heads)")
    _require(cfg.data.dataset in DATASET_NAMES, "data.dataset", cfg.data.dataset,
             f"one of {list(DATASET_NAMES)}")
    _require(0.0 <= lo.min_iou < lo.max_iou <= 1.0, "loss.min_iou", lo.min_iou,
             f"0 <= min_iou < max_iou (= {lo.max_iou}) <= 1")
    _require(isinstance(t.batch_size, int) and t.batch_size > 0, "train.batch_size",
             t.batch_size, "a positive integer")
    _require(isinstance(t.epochs, int) and t.epochs > 0, "train.epochs", t.epochs,
             "a positive integer")
    _require(t.learning_rate > 0, "train.learning_rate", t.learning_rate, "a positive number")
    _require(t.global_clipnorm is None or t.global_clipnorm > 0, "train.global_clipnorm",
             t.global_clipnorm, "a positive number or null")
    _require(0.0 <= e.nms_threshold <= 1.0, "eval.nms_threshold", e.nms_threshold,
             "a value in [0, 1]")
    _require(len(e.recall) > 0 and all(isinstance(r, int) and r > 0 for r in e.recall),
             "eval.recall", e.recall, "a non-empty list of positive integers")
    _require(len(e.iou_thresholds) > 0 and all(0 <= x < 1 for x in e.iou_thresholds),
             "eval.iou_thresholds", e.iou_thresholds, "a non-empty list of values in [0, 1)")
    _require(isinstance(e.batch_size, int) and e.batch_size > 0, "eval.batch_size",
             e.batch_size, "a positive integer")
    _require(e.layout in LAYOUT_SETTINGS, "eval.layout", e.layout, f"one of {list(LAYOUT_SETTINGS)}")
    unsupported = valid_cells_unsupported(m) if e.layout == "valid_cells" else None
    _require(unsupported is None, "eval.layout", e.layout, f"{unsupported}; use 'auto' or 'dense'")
    _require(e.window_seconds is None or (isinstance(e.window_seconds, (int, float))
                                           and e.window_seconds > 0),
             "eval.window_seconds", e.window_seconds, "a positive number of seconds or null")
    _require(e.window_overlap_seconds is None
             or (isinstance(e.window_overlap_seconds, (int, float))
                 and 0 <= e.window_overlap_seconds
                 and (e.window_seconds is None or e.window_overlap_seconds < e.window_seconds)),
             "eval.window_overlap_seconds", e.window_overlap_seconds,
             f"null or seconds in [0, eval.window_seconds = {e.window_seconds}): the overlap "
             f"must be shorter than the window")
    _require(isinstance(e.window_batch, int) and e.window_batch > 0, "eval.window_batch",
             e.window_batch, "a positive integer")
    _require(isinstance(m.window_head, bool), "model.window_head", m.window_head, "true or false")
    _require(isinstance(t.absent_share, (int, float)) and not isinstance(t.absent_share, bool)
             and 0.0 <= t.absent_share < 1.0, "train.absent_share", t.absent_share,
             "a share of the batch in [0, 1)")
    _require(isinstance(t.window_loss_weight, (int, float))
             and not isinstance(t.window_loss_weight, bool) and t.window_loss_weight >= 0,
             "train.window_loss_weight", t.window_loss_weight, "a non-negative number")
    _require(e.window_top_m is None or (isinstance(e.window_top_m, int)
                                        and not isinstance(e.window_top_m, bool)
                                        and e.window_top_m >= 1),
             "eval.window_top_m", e.window_top_m, "null (every window) or an integer >= 1")
    _require(e.window_top_m is None or m.window_head, "eval.window_top_m", e.window_top_m,
             "null unless model.window_head is true (the coarse pass ranks windows by it)")
    metrics = metric_names(cfg)
    _require(e.best_metric in metrics, "eval.best_metric", e.best_metric,
             f"one of {metrics}")


def model_config(config: Config | ModelConfig) -> ModelConfig:
    """The ModelConfig of a Config, or `config` itself when it is one."""
    return getattr(config, "model", config)


def valid_cells_unsupported(config: Config | ModelConfig) -> str | None:
    """Why `config`'s model has no valid-cell layout, or None when it has one."""
    m = model_config(config)
    if m.use_choice_comparison and m.comparison not in VALID_CELL_COMPARISONS:
        return (f"the valid-cell layout implements model.comparison in "
                f"{list(VALID_CELL_COMPARISONS)}; got {m.comparison!r}")
    return None


def metric_names(cfg: Config) -> list[str]:
    """Names of the evaluation metrics, e.g. 'R1@0.5', in table order, then 'mIoU'."""
    names = [f"R{r}@{t:g}" for r in cfg.eval.recall for t in cfg.eval.iou_thresholds]
    return names + ["mIoU"]


def save_config(cfg: Config, path: str | os.PathLike) -> None:
    """Write `cfg` as JSON or YAML, by the file's extension."""
    path = os.fspath(path)
    data = cfg.to_dict()
    if path.endswith((".yaml", ".yml")):
        import yaml

        write_text(path, yaml.safe_dump(data, sort_keys=False))
    else:
        write_json(path, data, indent=2)


def load_config(path: str | os.PathLike) -> Config:
    """Read a config written by `save_config` (JSON or YAML)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"config file {path!r} does not exist")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        if path.endswith((".yaml", ".yml")):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:  # noqa: BLE001 - name the file
        raise ValueError(f"config file {path!r} does not parse: {exc}") from None
    try:
        return from_dict(data)
    except ValueError as exc:
        raise ValueError(f"config file {path!r}: {exc}") from None
