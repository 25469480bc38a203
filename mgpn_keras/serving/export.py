"""`mgpn export`: a trained run -> a SavedModel for TensorFlow Serving.

    mgpn export --run-dir runs/tacos --out export/mgpn/1

The last folder of --out is the model version, an integer, as TensorFlow Serving requires
(it serves the highest version under the model's base path, here `export/mgpn`). The
SavedModel's signatures are described in `mgpn_keras.retrieval.module`; `mgpn_export.json`
beside `saved_model.pb` records the preset, top-k, NMS threshold, geometry and sources.

The model is exported in the inference layout (`eval.layout`, "auto" by default: the one
measured faster for the preset's geometry; `mgpn_keras.valid_cells.layout`), with the dense
model's answers, and in float32 unless `--precision mixed_bfloat16` (or `mixed_float16`) is asked
for; `mgpn_export.json` records both ("layout", "precision").

The SavedModel is written under a hidden temporary name and renamed when complete, so a
server watching the base path never loads a half-written version.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from mgpn_keras.retrieval.loaded_export import EXPORT_INFO_NAME
from mgpn_keras.version import __version__
from mgpn_keras.config import PRECISIONS

EXPORT_FORMAT = "mgpn_keras.export/1"
SIGNATURES = ("serving_default", "score_map")


def check_version_folder(out_dir: str | os.PathLike, overwrite: bool = False) -> Path:
    """`out_dir` as a Path, after checking that it is an integer version folder that may be
    written (absent, empty, or `overwrite`)."""
    out = Path(out_dir)
    if not out.name.isdigit():
        raise ValueError(f"export folder {str(out)!r} must end in an integer version folder, "
                         f"e.g. {str(out / '1')!r}: TensorFlow Serving serves the highest "
                         f"integer version under the model's base path")
    if out.exists() and not out.is_dir():
        raise ValueError(f"export folder {str(out)!r} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"export folder {str(out)!r} is not empty; pass --overwrite to "
                              f"replace it, or export to a new version number")
    return out


def export_saved_model(model, cfg, vocabulary, vectors, out_dir: str | os.PathLike, *,
                       top_k: int | None = None, nms_threshold: float | None = None,
                       window_seconds: float | None = None,
                       window_overlap_seconds: float | None = None,
                       source: dict | None = None, overwrite: bool = False,
                       layout: str | None = None, precision: str | None = None,
                       window_top_m: int | None = None) -> Path:
    """Write the serving SavedModel of a model and its data set's vocabulary.

    The graph runs the model in `layout` and `precision`: when `model` has another layout
    or dtype policy, a twin with a copy of its weights is exported
    (`mgpn_keras.model.inference_twin`); `model` itself is left as it was.

    Args:
        model: `build_mgpn(cfg)` with trained weights (any layout).
        cfg: its Config.
        vocabulary: the manifest's words by id ("<pad>", "<unk>", words...).
        vectors: the manifest's (V, word_dim) float32 word vectors.
        out_dir: the version folder, e.g. `export/mgpn/1`.
        top_k: moments per query (default max(cfg.eval.recall)).
        nms_threshold: NMS threshold (default cfg.eval.nms_threshold).
        window_seconds, window_overlap_seconds: long videos are retrieved by windows of this
            length in the graph (default cfg.eval's values; None: every video whole);
            recorded in `mgpn_export.json` as `window_seconds` / `window_stride_seconds`.
        source: facts about where the model came from, recorded in `mgpn_export.json`.
        overwrite: replace a non-empty `out_dir`.
        layout: the 2D stage's layout, "auto", "dense" or "valid_cells" (default
            `cfg.eval.layout`).
        precision: the dtype policy of the exported layers, one of `PRECISIONS` (default: the
            model's own); the scores stay float32.
        window_top_m: windows through the 2D stage after the coarse pass (a model with a
            window head; default cfg.eval.window_top_m), recorded as `window_top_m`.

    Returns:
        The version folder, holding `saved_model.pb`, `variables/` and `mgpn_export.json`.
    """
    import tensorflow as tf

    from mgpn_keras.atomic import atomic_path
    from mgpn_keras.model import inference_twin, model_layout, model_precision
    from mgpn_keras.retrieval.module import INPUT_SIGNATURE, OUTPUT_NAMES, MomentRetrievalModule
    from mgpn_keras.retrieval.portable import non_portable_parts, portable_tracing
    from mgpn_keras.valid_cells.layout import resolve_layout

    if precision is not None and precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}; expected one of {list(PRECISIONS)}")
    layout = resolve_layout(cfg, cfg.eval.layout if layout is None else layout)
    out = check_version_folder(out_dir, overwrite)
    model = inference_twin(model, cfg, layout, dtype=precision)
    info = {
        "format": EXPORT_FORMAT,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "mgpn_keras_version": __version__,
        "tensorflow_version": tf.__version__,
        "source": dict(source or {}),
        "layout": model_layout(model),
        "precision": model_precision(model),
    }
    module = MomentRetrievalModule(model, cfg, vocabulary, vectors, top_k=top_k,
                                   nms_threshold=nms_threshold, window_seconds=window_seconds,
                                   window_overlap_seconds=window_overlap_seconds,
                                   window_top_m=window_top_m, metadata=info)
    info = dict(module.metadata)
    info["signatures"] = {
        "serving_default": {
            "inputs": {s.name: {"dtype": s.dtype.name, "shape": [-1] * s.shape.rank}
                       for s in INPUT_SIGNATURE},
            "outputs": {name: {"dtype": "float32", "shape": [-1, info["top_k"]]}
                        for name in OUTPUT_NAMES},
        },
        "score_map": {
            "inputs": "as serving_default",
            "outputs": {"score_map": {"dtype": "float32",
                                      "shape": [-1, info["num_clips"], info["num_clips"]]}},
        },
    }
    with atomic_path(out, directory=True) as tmp:
        # Saving traces the functions, without XLA and cuDNN here. They are traced inside
        # save only: a trace made before it is not reused (TensorFlow keys a function's traces
        # by whether a save is under way), so getting concrete functions first traced twice.
        with portable_tracing(model):
            tf.saved_model.save(module, str(tmp), signatures={
                "serving_default": module.serve, "score_map": module.score_map})
        problems = non_portable_parts(read_graph_def(tmp))
        if problems:
            raise RuntimeError(f"the exported graph would need XLA or cuDNN, which a stock "
                               f"tensorflow_model_server does not run: {problems[:5]}")
        (tmp / EXPORT_INFO_NAME).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return out


def read_graph_def(export_dir: str | os.PathLike):
    """The GraphDef (with its function library) of a SavedModel's serving meta graph."""
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString((Path(export_dir) / "saved_model.pb").read_bytes())
    return saved.meta_graphs[0].graph_def


def find_weights(run_dir: str | os.PathLike) -> Path:
    """The weights of a run folder: checkpoints/best.weights.h5, else backup/latest.weights.h5."""
    from mgpn_keras.runs.paths import RunPaths
    from mgpn_keras.runs.resolve import run_weights

    return Path(run_weights(RunPaths(os.fspath(run_dir))))


def _resolve(run_dir, weights, manifest, layout, precision):
    """`runs.resolve.resolve_model` after the checks that name a bad argument."""
    from mgpn_keras.runs.resolve import resolve_model

    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}; expected one of {list(PRECISIONS)}")
    if not os.path.isdir(run_dir):
        raise FileNotFoundError(f"model folder {os.fspath(run_dir)!r} does not exist")
    return resolve_model(run_dir, weights=weights, manifest=manifest, layout=layout,
                         precision=precision)


def load_run(run_dir: str | os.PathLike, weights: str | os.PathLike | None = None,
             manifest: str | os.PathLike | None = None, *, layout: str | None = None,
             precision: str = "float32"):
    """(model with weights, Config, Manifest or None, weights file) of a trained model: a run
    folder or a preset folder (`mgpn_keras.runs.resolve.resolve_model`).

    Args:
        run_dir: the folder `train` wrote (config.json, manifest.json, checkpoints/), or a
            preset folder (its Manifest is None unless `manifest` is given).
        weights: a run folder's .weights.h5 file (default: its best, else its latest backup).
        manifest: the prepared data set's manifest (default: the one the run recorded).
        layout: the 2D stage's layout (default: the run's `eval.layout`).
        precision: the layers' dtype policy, one of `PRECISIONS` (default float32).
    """
    from mgpn_keras.runs.files import PRESET_WEIGHTS_FILE

    resolved = _resolve(run_dir, weights, manifest, layout, precision)
    weight_file = resolved.source.get("weights") or os.path.join(os.fspath(run_dir), PRESET_WEIGHTS_FILE)
    return resolved.model, resolved.config, resolved.data, Path(weight_file)


def export_run(run_dir: str | os.PathLike, out_dir: str | os.PathLike, *,
               weights: str | os.PathLike | None = None, manifest: str | os.PathLike | None = None,
               top_k: int | None = None, nms_threshold: float | None = None,
               window_seconds: float | None = None, window_overlap_seconds: float | None = None,
               whole_videos: bool = False, overwrite: bool = False, layout: str | None = None,
               precision: str = "float32", window_top_m: int | None = None) -> Path:
    """Export a trained model: a training run folder or a preset folder (`save_to_preset`).

    Args:
        run_dir: the folder `train` wrote (config.json, manifest.json, checkpoints/ or
            backup/), or a preset folder such as its model/.
        out_dir: the version folder, e.g. `export/mgpn/1`.
        weights: a run folder's .weights.h5 file (default: its best, else its latest backup).
        manifest: the prepared data set's manifest (default: the one the run recorded, or the
            preset folder's own assets); its vocabulary and word vectors go into the export.
        top_k, nms_threshold: override the preset's values.
        window_seconds, window_overlap_seconds: override the long-video window (default:
            `windowing.default_window`, twice the training moments' p99 length; for a preset
            folder without `manifest`, the config's window, else whole videos).
        whole_videos: no windows, every video retrieved whole.
        overwrite: replace a non-empty `out_dir`.
        layout: the 2D stage's layout (default: the run's `eval.layout`, "auto").
        precision: the exported layers' dtype policy, one of `PRECISIONS`.
        window_top_m: windows through the 2D stage after the coarse pass (default: the run's
            eval.window_top_m; needs a model trained with a window head).
    """
    from mgpn_keras.retrieval.windowing import check_window, default_window

    check_version_folder(out_dir, overwrite)  # fail before the slow part
    if window_seconds is not None:
        check_window(window_seconds, window_overlap_seconds)
    resolved = _resolve(run_dir, weights, manifest, layout, precision)
    if resolved.vocabulary is None:
        raise FileNotFoundError(f"{os.fspath(run_dir)!r} names no data set (its vocabulary and word "
                                "vectors go into the export); pass --manifest")
    cfg = resolved.config
    if whole_videos:
        window_seconds, window_overlap_seconds = None, None
    elif window_seconds is None:
        window_seconds, default_overlap = default_window(cfg, resolved.data)
        if window_overlap_seconds is None:
            window_overlap_seconds = default_overlap
    return export_saved_model(resolved.model, cfg, resolved.vocabulary, resolved.vectors, out_dir,
                              top_k=top_k, nms_threshold=nms_threshold, window_seconds=window_seconds,
                              window_overlap_seconds=window_overlap_seconds, source=resolved.source,
                              overwrite=overwrite, layout=layout, precision=precision,
                              window_top_m=window_top_m)
