"""From video files to clip features (`mgpn extract`) and to moments (`predict_video`).

- `specs`: `FeatureSpec`, the named specs of the benchmarks, `load_spec`.
- `decoding`: PyAV decoding into timed, resized frames; `VideoError`.
- `clips`: resampling to the spec's frame rate and cutting clips.
- `pixels`: pixel normalisation.
- `backbone`: loading the user's SavedModel / .keras / hub backbone.
- `features`: one video -> (clips, width) features.
- `writing`: the `<video>.npy` folder or HDF5 file `mgpn prepare` reads, resumable.
- `run`: `extract_videos`, a folder of videos -> features.
- `predict_video`: a video file and sentences -> moments from an export.
"""

from mgpn_keras.extract.backbone import Backbone, load_backbone
from mgpn_keras.extract.decoding import VideoError, find_videos, video_id
from mgpn_keras.extract.features import VideoFeatures, video_features
from mgpn_keras.extract.predict_video import VideoPrediction, predict_video
from mgpn_keras.extract.run import extract_videos
from mgpn_keras.extract.specs import NAMED_SPECS, FeatureSpec, load_spec

__all__ = ["Backbone", "FeatureSpec", "NAMED_SPECS", "VideoError", "VideoFeatures",
           "VideoPrediction", "extract_videos", "find_videos", "load_backbone", "load_spec",
           "predict_video", "video_features", "video_id"]
