"""In-graph video preprocessing for serving: the protocol's per-clip L2 normalisation and
averaging to a fixed clip count (`mgpn_keras.protocol`), under the names serving used."""

from __future__ import annotations

from mgpn_keras.protocol.clip_averaging import average_to_fixed_length, sample_indices
from mgpn_keras.protocol.clip_averaging import model_clips as preprocess_video
from mgpn_keras.protocol.l2_normalize import l2_normalize

__all__ = ["average_to_fixed_length", "l2_normalize", "preprocess_video", "sample_indices"]
