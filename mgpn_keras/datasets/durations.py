"""Statistics of a split's video durations, recorded by `mgpn prepare` in the manifest.

Windowed retrieval (`mgpn_keras.serving.windowing`) takes its default window length from them:
the 99th percentile of the training videos' durations (`DEFAULT_WINDOW_STATISTIC`). Why p99 and
not the max: on the real annotations the max is a rare outlier (ActivityNet train: p99 237 s,
max 755 s; Charades-STA: p99 60 s, max 194 s), while p99 still covers every length the model
was trained on in practice, so videos of the data set's usual lengths keep the whole-video path
and its paper-protocol results, and only videos beyond the training experience are windowed.
"""

from __future__ import annotations

import numpy as np

PERCENTILES = (50, 90, 95, 99)
DEFAULT_WINDOW_STATISTIC = "p99"


def duration_statistics(records) -> dict:
    """{"videos", "min", "p50", "p90", "p95", "p99", "max"} seconds over a split's videos.

    Args:
        records: annotation records with `video_id` and `duration` (one per query; each video
            is counted once).
    """
    durations = np.array(list({r.video_id: float(r.duration) for r in records}.values()),
                         np.float64)
    if durations.size == 0:
        return {"videos": 0}
    stats = {"videos": int(durations.size), "min": float(durations.min())}
    stats.update({f"p{p}": float(np.percentile(durations, p)) for p in PERCENTILES})
    stats["max"] = float(durations.max())
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in stats.items()}
