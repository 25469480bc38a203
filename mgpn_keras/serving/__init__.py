"""Serving: SavedModel export for TensorFlow Serving, and querying an export.

- `mgpn_keras.serving.export`: `export_saved_model`, `export_run` (what `mgpn export` runs).
- `mgpn_keras.serving.predict`: reading features and printing moments (what `mgpn predict` runs).
- `mgpn_keras.serving.load_check`: the export under concurrent load, and its bad requests.
- `mgpn_keras.serving.plot`: the score map and timeline figure of `mgpn predict --plot`.

The graph that is exported (the tf.Module, windowing, request checks, portable tracing) and
`MomentRetriever` live in `mgpn_keras.retrieval`, which windowed evaluation runs too.
See docs/serving.md.
"""
