"""From video files to clip features (`mgpn extract`) and to moments (`predict_video`).

- `specs`: `FeatureSpec`, the named specs of the benchmarks, `load_spec`.
- `decoding`: PyAV decoding into timed, resized frames; `VideoError`.
- `clips`: resampling to the spec's frame rate and cutting clips.
- `pixels`: pixel normalisation.
- `backbone`: loading the user's SavedModel / .keras / hub backbone.
- `features`: one video -> (clips, width) features.
- `writing`: the `<video>.npy` folder or HDF5 file `mgpn prepare` reads, resumable.
- `run`: `extract_videos`, a folder of videos -> features.
- `video_prediction`: `predict_video`, a video file and sentences -> moments from an export.
"""

import importlib

# Where each public name lives. Loaded on first use, so that `mgpn extract --help` and the
# light modules (specs) do not import TensorFlow before the CLI has quieted its start-up lines.
# No public name is also a submodule's name: importing that submodule would shadow it.
_NAMES = {
    "Backbone": "backbone", "load_backbone": "backbone",
    "VideoError": "decoding", "find_videos": "decoding", "video_id": "decoding",
    "VideoFeatures": "features", "video_features": "features",
    "videos_features": "features",
    "VideoPrediction": "video_prediction", "predict_video": "video_prediction",
    "extract_videos": "run",
    "NAMED_SPECS": "specs", "FeatureSpec": "specs", "load_spec": "specs",
}

__all__ = sorted(_NAMES)


def __getattr__(name):
    if name not in _NAMES:
        raise AttributeError(f"module 'mgpn_keras.extract' has no attribute {name!r}")
    return getattr(importlib.import_module(f"mgpn_keras.extract.{_NAMES[name]}"), name)
