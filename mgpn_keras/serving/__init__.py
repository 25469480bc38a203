"""Serving: SavedModel export for TensorFlow Serving, and querying an export.

- `mgpn_keras.serving.export`: `export_saved_model`, `export_run` (what `mgpn export` runs).
- `mgpn_keras.serving.predict`: `load_export`, `predict` (what `mgpn predict` runs).
- `mgpn_keras.serving.module`: the exported tf.Module and its signatures.
- `mgpn_keras.serving.retriever`: `MomentRetriever`, the Python API (features, duration,
  sentences -> moments) for a video of any length.
- `mgpn_keras.serving.windowing`: windowed retrieval of long videos, in the graph.
- `mgpn_keras.serving.preprocess`, `moments`, `validation`: the graph pieces (feature
  averaging, ranking with NMS, request checks).
- `mgpn_keras.serving.portable`: tracing without XLA or cuDNN-only kernels, and the check.
- `mgpn_keras.serving.plot`: the score map and timeline figure of `mgpn predict --plot`.

See docs/serving.md.
"""
