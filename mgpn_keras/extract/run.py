"""`extract_videos`: a folder of videos -> features in the layout `mgpn prepare` reads."""

from __future__ import annotations

import os
import time
from pathlib import Path

from mgpn_keras.extract.backbone import Backbone, load_backbone
from mgpn_keras.extract.decoding import VideoError, find_videos, video_id
from mgpn_keras.extract.features import DEFAULT_BATCH_SIZE, videos_features
from mgpn_keras.extract.specs import FeatureSpec, load_spec
from mgpn_keras.extract.writing import FeatureWriter, parts_folder
from mgpn_keras.runs.lock import hold_run_folder


def extract_videos(videos: str | os.PathLike, backbone: str | os.PathLike | Backbone,
                   spec: str | os.PathLike | FeatureSpec, out: str | os.PathLike, *,
                   batch_size: int = DEFAULT_BATCH_SIZE, skip_bad: bool = False,
                   overwrite: bool = False, progress: bool = True,
                   backbone_output: str | None = None) -> dict:
    """Extract the features of every video in a folder; return a summary.

    Args:
        videos: a folder of video files (by suffix, not recursive) or one video file.
        backbone: a SavedModel folder, a .keras file, a kaggle:/tfhub: handle, or a `Backbone`.
        spec: a named spec, a spec file, or a `FeatureSpec`.
        out: a folder for `<video>.npy` files, or a path ending in .hdf5 / .h5.
        batch_size: clips per backbone call (the clips of consecutive videos share calls).
        skip_bad: record unusable videos (in the summary and extract.json) and go on, instead
            of stopping at the first.
        overwrite: extract every video again, also into an --out of another spec or backbone.
        progress: a progress bar in videos and clips, and a summary line.

    Returns:
        {"extracted", "kept", "failed": {video: message}, "ignored_files", "clips", "seconds"}.

    Raises:
        VideoError: a video cannot be used (without skip_bad); finished videos stay written.
    """
    started = time.time()
    spec = load_spec(spec)
    files, others = video_files(videos)
    if not isinstance(backbone, Backbone):
        backbone = load_backbone(backbone, backbone_output)
    fingerprint = extract_fingerprint(spec, backbone.name)
    # One writer per output folder: a second run into it stops at once, naming the first.
    with hold_run_folder(parts_folder(out), "extract"):
        writer = FeatureWriter(out, fingerprint, overwrite=overwrite)
        todo = [f for f in files if overwrite or not writer.done(video_id(f))]
        kept = len(files) - len(todo)
        bar = None
        if progress:
            import keras

            print(f"extract {spec.name}: {len(files)} videos in {videos} ({kept} already done), "
                  f"backbone {backbone.name}, out {out}")
            bar = keras.utils.Progbar(len(files), unit_name="video", stateful_metrics=["clips"])
            bar.update(kept)
        clips = done = 0
        failed: dict[str, str] = {}

        def on_batch(n: int) -> None:
            nonlocal clips
            clips += n
            if bar is not None:
                bar.update(kept + done, [("clips", clips)])

        try:
            # Clips of consecutive videos share backbone calls (`videos_features`).
            for path, result in videos_features(todo, spec, backbone, batch_size=batch_size,
                                                on_batch=on_batch):
                if isinstance(result, Exception):
                    if not (skip_bad and isinstance(result, VideoError)):
                        raise result
                    failed[video_id(path)] = str(result)
                    writer.failed(video_id(path), str(result))
                else:
                    writer.write(video_id(path), result.features, result.duration)
                done += 1
                if bar is not None:
                    bar.update(kept + done, [("clips", clips)])
        finally:
            writer.close()
    return extract_summary(out, writer, done - len(failed), kept, failed, others, clips, started,
                           progress)


def video_files(videos) -> tuple[list, list]:
    """(video files, other files) of a folder; no video file is a one-line error."""
    files, others = find_videos(videos)
    if not files:
        raise FileNotFoundError(f"no video files in {str(videos)!r} (looked for suffixes "
                                f"mp4, avi, mkv, webm, mov, ...; {len(others)} other files)")
    return files, others


def extract_summary(out, writer, extracted: int, kept: int, failed: dict, others, clips: int,
                    started: float, progress: bool) -> dict:
    """What `mgpn extract` did (either driver), printed when `progress`."""
    summary = {"extracted": extracted, "kept": kept, "failed": failed,
               "ignored_files": [p.name for p in others], "clips": clips,
               "seconds": round(time.time() - started, 2)}
    if progress:
        print(f"wrote {out}: {extracted} videos extracted ({clips} clips), {kept} "
              f"kept from an earlier run, {len(failed)} failed, {len(others)} non-video files "
              f"ignored; durations in {writer.durations_path}")
        for message in failed.values():
            print(f"  failed: {message}")
    return summary


def extract_fingerprint(spec, backbone_name: str) -> dict:
    """What a feature folder's videos were extracted with (both drivers record it, and a
    re-run with other inputs is refused): the spec, and the backbone by its resolved path
    when it is a file or folder, else by its name."""
    path = Path(backbone_name)
    return {"spec": spec.to_dict(),
            "backbone": str(path.resolve()) if path.exists() else backbone_name}
