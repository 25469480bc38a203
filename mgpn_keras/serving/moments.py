"""In-graph proposal ranking and greedy NMS for serving: the protocol's operations
(`mgpn_keras.protocol.proposals`, `mgpn_keras.protocol.nms`) under the names serving used."""

from __future__ import annotations

from mgpn_keras.protocol.nms import NO_MOMENT_SCORE, nms_keep, top_moments
from mgpn_keras.protocol.proposals import ranked_proposals, upper_cells

__all__ = ["NO_MOMENT_SCORE", "nms_keep", "ranked_proposals", "top_moments", "upper_cells"]
