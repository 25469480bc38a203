"""The figure of `mgpn predict --plot`: the N x N score map with the top moments marked, and a
timeline of the video with the moments (and the ground truth). For a video retrieved by windows
(`mgpn_keras.retrieval.windowing`) the timeline alone, with the windows above the merged
moments."""

from __future__ import annotations

import os
import textwrap

import numpy as np

from mgpn_keras.atomic import atomic_path

MOMENT_COLOUR = "#d62728"
GT_COLOUR = "#17becf"


def moment_cell(start: float, end: float, duration: float, num_clips: int) -> tuple[int, int]:
    """The map cell (start clip i, end clip j) nearest to a moment; a proposal's times
    `[i, j + 1] / N * duration` give back exactly its cell."""
    i = int(np.clip(np.round(start / duration * num_clips), 0, num_clips - 1))
    j = int(np.clip(np.round(end / duration * num_clips) - 1, i, num_clips - 1))
    return i, j


def plot_prediction(path: str | os.PathLike, score_maps, moments, duration: float, queries,
                    valid_mask, gt=None, windows=None) -> None:
    """Write a PNG with, per query, its score map (top) and a timeline (bottom).

    Args:
        path: the PNG to write.
        score_maps: (Q, N, N) joint probabilities (the export's score_map signature).
        moments: Q arrays (k, 3) [start_s, end_s, score], best first.
        duration: the video's length in seconds.
        queries: Q sentences (titles).
        valid_mask: (N, N) 1 on candidate cells; other cells are drawn blank.
        gt: optional (start_s, end_s) ground truth, drawn on every panel.
        windows: optional (m, 2) [start_s, end_s] of the windows the moments were merged
            from; then each query gets a timeline only (a map covers one window, not the
            video).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.patheffects as effects
    import matplotlib.pyplot as plt

    if windows is not None:
        _plot_windowed(plt, path, moments, duration, queries, np.asarray(windows), gt)
        return
    outline = [effects.withStroke(linewidth=4, foreground="black")]
    score_maps = np.asarray(score_maps)
    count, n = score_maps.shape[0], score_maps.shape[1]
    valid = np.asarray(valid_mask) != 0
    fig, axes = plt.subplots(2, count, figsize=(5.4 * count, 8.2), squeeze=False,
                             gridspec_kw={"height_ratios": [3.2, 1.0]})
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="#e8e8e8")
    for q in range(count):
        ax, line = axes[0, q], axes[1, q]
        shown = np.ma.masked_where(~valid, score_maps[q])
        low, high = float(shown.min()), float(shown.max())
        image = ax.imshow(shown, cmap=cmap, vmin=low, vmax=max(high, low + 1e-6),
                          origin="upper", interpolation="nearest")
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="score (sigmoid)")
        ax.set_title("\n".join(textwrap.wrap(queries[q], 48)), fontsize=10)
        ax.set_xlabel("end clip j")
        ax.set_ylabel("start clip i")
        kept = np.asarray(moments[q]).reshape(-1, 3)
        for rank, (start, end, score) in enumerate(kept, 1):
            i, j = moment_cell(start, end, duration, n)
            ax.scatter([j], [i], s=170, facecolors="none", edgecolors=MOMENT_COLOUR,
                       linewidths=2.5, path_effects=outline,
                       label="top moments" if rank == 1 else None)
            ax.annotate(str(rank), (j, i), textcoords="offset points", xytext=(7, 6),
                        color="white", fontsize=9, fontweight="bold", path_effects=outline)
            alpha = 1.0 - 0.5 * (rank - 1) / max(len(kept) - 1, 1)
            line.barh(rank, end - start, left=start, height=0.6, color=MOMENT_COLOUR,
                      alpha=alpha, edgecolor="black", linewidth=0.5)
            line.text(min(end + 0.01 * duration, 0.93 * duration), rank, f"{score:.3f}",
                      va="center", fontsize=8)
        if gt is not None:
            i, j = moment_cell(gt[0], gt[1], duration, n)
            ax.scatter([j], [i], s=150, marker="s", facecolors="none", edgecolors=GT_COLOUR,
                       linewidths=2.5, path_effects=outline, label="ground truth")
            line.barh(0, gt[1] - gt[0], left=gt[0], height=0.6, color=GT_COLOUR,
                      edgecolor="black", linewidth=0.5)
        if len(kept) or gt is not None:
            ax.legend(loc="lower left", fontsize=8)
        ticks = ([0] if gt is not None else []) + list(range(1, len(kept) + 1))
        line.set_yticks(ticks, (["truth"] if gt is not None else [])
                        + [f"#{r}" for r in range(1, len(kept) + 1)])
        line.set_ylim(len(kept) + 0.7, -0.7 if gt is not None else 0.3)
        line.set_xlim(0.0, duration)
        line.set_xlabel(f"time (s), video of {duration:g} s")
        line.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def _plot_windowed(plt, path, moments, duration, queries, windows, gt) -> None:
    """Per query a timeline: the windows (alternating rows), the ground truth, the moments."""
    count = len(queries)
    fig, axes = plt.subplots(count, 1, figsize=(11, 1.6 + 0.45 * (8 + len(windows) % 2)),
                             squeeze=False)
    for q in range(count):
        line = axes[q, 0]
        kept = np.asarray(moments[q]).reshape(-1, 3)
        for w, (start, end) in enumerate(windows):
            line.barh(-1.6 - 0.5 * (w % 2), end - start, left=start, height=0.4,
                      color="#bbbbbb", edgecolor="black", linewidth=0.4,
                      label="windows" if w == 0 else None)
        if gt is not None:
            line.barh(0, gt[1] - gt[0], left=gt[0], height=0.6, color=GT_COLOUR,
                      edgecolor="black", linewidth=0.5, label="ground truth")
        for rank, (start, end, score) in enumerate(kept, 1):
            alpha = 1.0 - 0.5 * (rank - 1) / max(len(kept) - 1, 1)
            # At least 0.3 % of the video wide, so a short moment stays visible.
            line.barh(rank, max(end - start, 0.003 * duration), left=start, height=0.6,
                      color=MOMENT_COLOUR, alpha=alpha, edgecolor="black", linewidth=0.5,
                      label="merged moments" if rank == 1 else None)
            line.text(min(end + 0.005 * duration, 0.95 * duration), rank, f"{score:.3f}",
                      va="center", fontsize=8)
        ticks = [-1.85, 0] + list(range(1, len(kept) + 1))
        line.set_yticks(ticks, ["windows", "truth" if gt is not None else ""]
                        + [f"#{r}" for r in range(1, len(kept) + 1)])
        line.set_ylim(len(kept) + 0.7, -2.4)
        line.set_xlim(0.0, duration)
        line.set_title("\n".join(textwrap.wrap(queries[q], 100)), fontsize=10)
        line.set_xlabel(f"time (s), video of {duration:g} s, {len(windows)} windows")
        line.grid(axis="x", alpha=0.3)
        line.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
