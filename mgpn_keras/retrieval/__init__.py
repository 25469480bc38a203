"""In-graph moment retrieval: what the SavedModel exports, and what windowed evaluation runs.

- `mgpn_keras.retrieval.module`: `MomentRetrievalModule`, the exported tf.Module and its signatures.
- `mgpn_keras.retrieval.windowing`: windowed retrieval of long videos, in the graph.
- `mgpn_keras.retrieval.validation`: the request checks, in the graph.
- `mgpn_keras.retrieval.portable`: tracing without XLA or cuDNN-only kernels, and the check.
- `mgpn_keras.retrieval.retriever`: `MomentRetriever`, the Python API (features, duration,
  sentences -> moments) for a video of any length.
- `mgpn_keras.retrieval.loaded_export`: `load_export`, `predict`: an export reloaded, and one
  request through it.
"""
