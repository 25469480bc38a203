"""Loading the user's backbone: a SavedModel folder, a `.keras` file, or a hub handle.

A SavedModel is called through its `serving_default` signature (Keras `model.export` writes one;
`tf.saved_model.save` makes one from a single `tf.function` with an input signature).

A backbone maps a batch of clips (batch, frames_per_clip, height, width, 3) float32 to
(batch, width). A per-frame backbone (frames_per_clip 1) may instead take (batch, height,
width, 3); the input's rank, read from the model, decides. Handles are loaded with the ordinary
libraries, imported only when such a handle is passed:

- `kaggle:OWNER/MODEL/FRAMEWORK/VARIATION` (kagglehub.model_download, then the folder is loaded
  as below);
- `tfhub:URL`, or a URL on tfhub.dev / kaggle.com/models (tensorflow_hub.load).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mgpn_keras.datasets.errors import DataError

_HUB_PREFIXES = ("https://tfhub.dev/", "https://www.kaggle.com/models/",
                 "https://kaggle.com/models/")


class Backbone:
    """A loaded backbone: call it with a float32 clip batch, get (batch, width) float32.

    Args:
        fn: the callable (a Keras model, a SavedModel signature, a hub object).
        input_rank: 5 for clips, 4 for frames, None when the model does not say.
        name: what it was loaded from (for messages).
        input_name: the keyword a SavedModel signature takes its input by.
        output_name: which output of a signature with several to use.
    """

    def __init__(self, fn, input_rank: int | None, name: str, input_name: str | None = None,
                 output_name: str | None = None, input_shape: tuple | None = None):
        self.fn, self.input_rank, self.name = fn, input_rank, name
        self.input_name, self.output_name = input_name, output_name
        # The input's shape without the batch axis, None where any size goes.
        self.input_shape = tuple(input_shape) if input_shape is not None else None

    def __call__(self, clips: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        batch = clips.shape[0]
        if self.input_rank == 4:
            if clips.shape[1] != 1:
                raise DataError(f"backbone {self.name}: takes frames (batch, height, width, 3), "
                                f"but the spec gives clips of {clips.shape[1]} frames; use a "
                                f"spec with frames_per_clip 1 or a clip backbone")
            clips = clips[:, 0]
        if self.input_shape is not None and (len(self.input_shape) != clips.ndim - 1 or any(
                want is not None and want != got
                for want, got in zip(self.input_shape, clips.shape[1:]))):
            shape = tuple("any" if d is None else d for d in self.input_shape)
            raise DataError(f"backbone {self.name}: takes inputs of shape (batch, "
                            f"{', '.join(map(str, shape))}), the spec gives "
                            f"{tuple(clips.shape)}; set the spec's frame_size / frames_per_clip "
                            f"to what the backbone was built for")
        x = tf.constant(clips)
        out = self.fn(**{self.input_name: x}) if self.input_name else self.fn(x)
        if isinstance(out, dict):
            if self.output_name is None and len(out) != 1:
                raise DataError(f"backbone {self.name}: returns outputs {sorted(out)}; pick one "
                                f"with --backbone-output")
            key = self.output_name or next(iter(out))
            if key not in out:
                raise DataError(f"backbone {self.name}: has no output {key!r}; it returns "
                                f"{sorted(out)}")
            out = out[key]
        elif isinstance(out, (list, tuple)):
            raise DataError(f"backbone {self.name}: returns {len(out)} tensors, expected one "
                            f"(batch, width) tensor")
        features = np.asarray(out, np.float32)
        if features.ndim > 2:  # e.g. I3D's (batch, 1, 1, 1, 1024) before the squeeze
            squeezable = tuple(a for a in range(1, features.ndim) if features.shape[a] == 1)
            features = features.squeeze(axis=squeezable) if squeezable else features
        if features.ndim != 2 or features.shape[0] != batch:
            raise DataError(f"backbone {self.name}: returned shape {tuple(np.shape(out))} for "
                            f"{batch} clips of shape {tuple(clips.shape[1:])}, expected "
                            f"({batch}, width)")
        return features


def load_backbone(source: str | os.PathLike, output_name: str | None = None) -> Backbone:
    """Load a backbone from a SavedModel folder, a `.keras` file or a hub handle."""
    text = str(source)
    if text.startswith("kaggle:"):
        try:
            import kagglehub
        except ImportError:
            raise ImportError(f"backbone {text!r} is a Kaggle handle: pip install kagglehub to "
                              f"download it, or pass the downloaded folder") from None
        return _load_path(Path(kagglehub.model_download(text[len("kaggle:"):])), output_name,
                          text)
    if text.startswith("tfhub:") or text.startswith(_HUB_PREFIXES):
        try:
            import tensorflow_hub as hub
        except ImportError:
            raise ImportError(f"backbone {text!r} is a TF-Hub handle: pip install tensorflow-hub "
                              f"to load it, or pass the downloaded SavedModel folder") from None
        handle = text[len("tfhub:"):] if text.startswith("tfhub:") else text
        return _from_saved_model(hub.load(handle), output_name, text)
    return _load_path(Path(text), output_name, text)


def _load_path(path: Path, output_name: str | None, name: str) -> Backbone:
    if path.is_dir() and (path / "saved_model.pb").is_file():
        import tensorflow as tf

        return _from_saved_model(tf.saved_model.load(str(path)), output_name, name)
    if path.is_dir():
        found = sorted(path.glob("*.keras"))
        if len(found) == 1:
            path = found[0]
    if path.is_file() and path.suffix in (".keras", ".h5"):
        import keras

        try:
            model = keras.saving.load_model(str(path), compile=False)
        except Exception as exc:  # a truncated zip, an unregistered custom layer
            raise DataError(f"backbone {name}: cannot be loaded as a Keras model file "
                            f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
                            ) from None
        if len(model.inputs) != 1:
            raise DataError(f"backbone {name}: takes {len(model.inputs)} inputs, expected one "
                            f"clip batch")
        shape = tuple(model.inputs[0].shape)
        return Backbone(lambda x: model(x, training=False), len(shape), name,
                        input_shape=shape[1:])
    if not path.exists():
        raise FileNotFoundError(f"backbone {name!r} does not exist (expected a SavedModel "
                                f"folder, a .keras file, or a kaggle:/tfhub: handle)")
    raise DataError(f"backbone {name}: expected a SavedModel folder (with saved_model.pb), a "
                    f".keras (or legacy .h5) file, or a kaggle:/tfhub: handle")


def _from_saved_model(loaded, output_name: str | None, name: str) -> Backbone:
    signature = getattr(loaded, "signatures", {}).get("serving_default")
    if signature is None:
        if not callable(loaded):
            raise DataError(f"backbone {name}: the SavedModel has no serving_default signature "
                            f"and is not callable; save it with keras `model.export(path)`")
        return Backbone(loaded, None, name, output_name=output_name)
    inputs = signature.structured_input_signature[1]
    if len(inputs) != 1:
        raise DataError(f"backbone {name}: serving_default takes inputs {sorted(inputs)}, "
                        f"expected one clip batch")
    (input_name, spec), = inputs.items()
    dims = spec.shape.as_list() if spec.shape.rank is not None else None
    backbone = Backbone(signature, spec.shape.rank, name, input_name=input_name,
                        output_name=output_name, input_shape=dims[1:] if dims else None)
    backbone.owner = loaded  # a signature needs its SavedModel's variables alive
    return backbone
