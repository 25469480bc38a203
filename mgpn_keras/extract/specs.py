"""Feature specs: how frames are sampled from a video and prepared for a backbone.

A spec fixes everything between a video file and the backbone's input: the frame rate frames
are sampled at (`fps`, or the file's own frames), the frames in one clip (`frames_per_clip`),
how far apart clips start (`stride_frames` at that rate, or `stride_seconds`), the frame size
and resize policy, the pixel range, mean and std, and the channel order. The benchmarks' specs
ship in the package (`specs/*.json`, sources in docs/extract.md); a user's own backbone gets a
small JSON or YAML file with the same keys.

Clip j starts at the j-th stride position whose time lies inside the video; a clip that runs past
the last frame repeats it. So a video of duration D sampled at `fps` with `stride_frames` s has
ceil(ceil(D * fps) / s) clips, and with `stride_seconds` S, ceil(D / S) clips.
"""

from __future__ import annotations

import dataclasses
import json
import os
from importlib import resources
from pathlib import Path

NAMED_SPECS = ("charades_i3d", "charades_vgg", "tacos_c3d", "activitynet_c3d")
RESIZE_POLICIES = ("stretch", "short_side_center_crop")
PIXEL_RANGES = ("0_255", "0_1", "-1_1")
CHANNEL_ORDERS = ("rgb", "bgr")


@dataclasses.dataclass(frozen=True)
class FeatureSpec:
    """How to turn a video into backbone inputs (see the module docstring for clip counts).

    Attributes:
        name: what the spec is called (a named spec's name or the file's stem).
        frames_per_clip: frames in one clip; 1 for a per-frame backbone.
        fps: frames are resampled to this rate (the frame shown at each k / fps); None keeps
            the file's own frames, whatever their timing.
        stride_frames: a clip starts every this many sampled frames ...
        stride_seconds: ... or every this many seconds (exactly one of the two is set).
        frame_size: (height, width) of the frames the backbone gets.
        resize: "stretch" (to frame_size, ignoring the aspect ratio) or "short_side_center_crop"
            (short side to `short_side`, then the centre frame_size crop).
        short_side: the short side before the crop (with "short_side_center_crop").
        pixel_range: "0_255", "0_1" or "-1_1": uint8 pixels are first mapped to this range ...
        mean: ... then this per-channel mean (in the channel order below) is subtracted ...
        std: ... and the result divided by this per-channel std.
        channel_order: "rgb" or "bgr" (Caffe-trained backbones).
        feature_width: the width the backbone must return (checked), None for any.
        layer: which layer of the standard backbone gives the features (documentation).
        backbone: the standard backbone and where its weights come from (documentation).
        source: where these settings are documented (documentation).
    """

    name: str
    frames_per_clip: int = 1
    fps: float | None = None
    stride_frames: int | None = None
    stride_seconds: float | None = None
    frame_size: tuple[int, int] = (224, 224)
    resize: str = "stretch"
    short_side: int | None = None
    pixel_range: str = "0_1"
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    channel_order: str = "rgb"
    feature_width: int | None = None
    layer: str = ""
    backbone: str = ""
    source: str = ""

    def __post_init__(self):
        where = f"feature spec {self.name!r}"

        def positive_int(key, value):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{where}: {key} must be a positive integer, got {value!r}")

        def positive_number(key, value):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"{where}: {key} must be a positive number, got {value!r}")

        positive_int("frames_per_clip", self.frames_per_clip)
        if self.fps is not None:
            positive_number("fps", self.fps)
        if (self.stride_frames is None) == (self.stride_seconds is None):
            raise ValueError(f"{where}: set exactly one of stride_frames and stride_seconds, got "
                             f"{self.stride_frames!r} and {self.stride_seconds!r}")
        if self.stride_frames is not None:
            positive_int("stride_frames", self.stride_frames)
        else:
            positive_number("stride_seconds", self.stride_seconds)
        size = tuple(self.frame_size) if isinstance(self.frame_size, (list, tuple)) else ()
        if len(size) != 2:
            raise ValueError(f"{where}: frame_size must be [height, width], got "
                             f"{self.frame_size!r}")
        for value in size:
            positive_int("frame_size", value)
        object.__setattr__(self, "frame_size", size)
        _choice(where, "resize", self.resize, RESIZE_POLICIES)
        if self.resize == "short_side_center_crop":
            positive_int("short_side", self.short_side)
            if self.short_side < min(size):
                raise ValueError(f"{where}: short_side {self.short_side} is smaller than the "
                                 f"crop {list(size)}")
        _choice(where, "pixel_range", self.pixel_range, PIXEL_RANGES)
        _choice(where, "channel_order", self.channel_order, CHANNEL_ORDERS)
        for key in ("mean", "std"):
            value = getattr(self, key)
            if not isinstance(value, (list, tuple)) or len(value) != 3 or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
                raise ValueError(f"{where}: {key} must be three numbers, got {value!r}")
            object.__setattr__(self, key, tuple(float(v) for v in value))
        if any(v <= 0 for v in self.std):
            raise ValueError(f"{where}: std must be positive, got {list(self.std)}")
        if self.feature_width is not None:
            positive_int("feature_width", self.feature_width)

    def clips_per_second(self, native_fps: float | None = None) -> float:
        """Clips per second of video (needs the file's frame rate when fps is None)."""
        if self.stride_seconds is not None:
            return 1.0 / self.stride_seconds
        rate = self.fps if self.fps is not None else native_fps
        if rate is None:
            raise ValueError(f"feature spec {self.name!r} samples the file's own frames: the "
                             f"clip rate depends on the video's frame rate")
        return rate / self.stride_frames

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        for key in ("frame_size", "mean", "std"):
            out[key] = list(out[key])
        return out


def _choice(where: str, key: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"{where}: {key} must be one of {list(choices)}, got {value!r}")


def spec_from_dict(content: dict, name: str, source: str = "") -> FeatureSpec:
    """A spec from a mapping; unknown keys are an error naming them and where they came from."""
    where = source or f"feature spec {name!r}"
    if not isinstance(content, dict):
        raise ValueError(f"{where}: expected a mapping of spec keys, got "
                         f"{type(content).__name__}")
    known = {f.name for f in dataclasses.fields(FeatureSpec)}
    unknown = sorted(set(content) - known)
    if unknown:
        raise ValueError(f"{where}: unknown keys {unknown}; expected keys among {sorted(known)}")
    content = dict(content)
    content.setdefault("name", name)
    try:
        return FeatureSpec(**content)
    except TypeError as exc:
        raise ValueError(f"{where}: {exc}") from None


def load_spec(name_or_file: str | os.PathLike | FeatureSpec) -> FeatureSpec:
    """A named spec (`NAMED_SPECS`) or a spec file (.json, .yaml or .yml)."""
    if isinstance(name_or_file, FeatureSpec):
        return name_or_file
    text = str(name_or_file)
    if text in NAMED_SPECS:
        content = json.loads(resources.files("mgpn_keras.extract").joinpath(
            "specs", f"{text}.json").read_text(encoding="utf-8"))
        return spec_from_dict(content, text, f"named feature spec {text!r}")
    path = Path(text)
    if not path.is_file():
        raise ValueError(f"feature spec {text!r}: not a named spec {list(NAMED_SPECS)} and no "
                         f"such file (expected a .json or .yaml spec file)")
    raw = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            content = yaml.safe_load(raw)
        else:
            content = json.loads(raw)
    except Exception as exc:  # json.JSONDecodeError, yaml.YAMLError
        raise ValueError(f"feature spec file {path}: cannot be parsed "
                         f"({str(exc).splitlines()[0]})") from None
    return spec_from_dict(content, path.stem, f"feature spec file {path}")
