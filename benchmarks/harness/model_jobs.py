"""One model configuration measured: built, fed random inputs (query length `tokens`, every
token valid) and timed, in this process or, for the served path, exported and timed in a
TensorFlow-only process (`served_timer`).

A job (`speed.py`'s plans write them) names "preset", "model" (overrides of the preset's
model section; {} for none), "task" ("inference" or "train"), "path" ("dense" or
"valid_cells": the layout, in process; "served": the SavedModel), "xla", "precision", "batch",
"tokens", "warmup", "iterations" and "note". Its result is the job with `timing.time_calls`'s
numbers, "per_s" (queries or samples a second), "peak_rss_gb", "trainable_parameters" and
"layout".
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time

from harness.timing import peak_rss_gb, time_calls
from harness.worker import run_batch

SERVED_TIMER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "served_timer.py")


def random_inputs(m, batch: int, tokens: int = 10, seed: int = 0) -> dict:
    """The model's inputs for the model config `m`: normal word vectors and clip features,
    every token valid."""
    import numpy as np

    rng = np.random.default_rng(seed)
    return {"word_vectors": rng.normal(size=(batch, tokens, m.word_dim)).astype(np.float32),
            "query_mask": np.ones((batch, tokens), np.float32),
            "clip_features": rng.normal(size=(batch, m.num_sample_clips, m.input_size)).astype(np.float32)}


def job_config(job: dict):
    """The job's config: its preset with its model overrides, and its XLA setting as the
    training step's `jit_compile`."""
    from mgpn_keras.config import preset

    return preset(job["preset"], model=job["model"], train={"jit_compile": job["xla"]})


def compiled_for_steps(model, cfg):
    """`model` compiled by the trainer's `compile_model` (the step the trainer runs: Adam with
    the config's learning rate and global_clipnorm, and its loss), with Adam's slots made
    before the first step: that step's trace then creates no variables and runs once (a first
    step that makes them is traced twice, which a timed warm-up would carry)."""
    from mgpn_keras.training.trainer import compile_model

    compile_model(model, cfg)
    model.optimizer.build(model.trainable_variables)
    return model


def run_job(job: dict) -> dict:
    """Build, warm up and time one configuration in this process."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if job["path"] == "served":
        return run_served_job(job)
    import keras
    import numpy as np
    import tensorflow as tf

    from mgpn_keras.model import build_mgpn, count_trainable_parameters, model_layout

    keras.mixed_precision.set_global_policy(job["precision"])
    try:
        keras.utils.set_random_seed(0)
        cfg = job_config(job)
        m = cfg.model
        model = build_mgpn(cfg, layout=job["path"])
        b = job["batch"]
        x = random_inputs(m, b, job["tokens"])
        if job["task"] == "inference":
            forward = tf.function(lambda inputs: model(inputs, training=False), jit_compile=job["xla"])

            def step():
                return np.asarray(forward(x))
        else:
            compiled_for_steps(model, cfg)
            y = np.random.default_rng(0).uniform(size=(b, m.num_clips, m.num_clips)).astype(np.float32)

            def step():
                return model.train_on_batch(x, y)
        timed = time_calls(step, job["warmup"], job["iterations"])
        return dict(job, **timed, per_s=round(b / timed["median_s"], 3), peak_rss_gb=peak_rss_gb(),
                    trainable_parameters=count_trainable_parameters(model), layout=model_layout(model))
    finally:
        keras.mixed_precision.set_global_policy("float32")


def run_served_job(job: dict) -> dict:
    """Export the preset's model (layout "auto", `job["precision"]`) and time its
    `serving_default` in a fresh TensorFlow-only process."""
    import keras
    import numpy as np

    from mgpn_keras.model import build_mgpn, count_trainable_parameters
    from mgpn_keras.serving.export import export_saved_model

    keras.utils.set_random_seed(0)
    cfg = job_config(job)
    m = cfg.model
    model = build_mgpn(cfg)  # trained weights would change nothing in the timing
    words = [f"w{i}" for i in range(2000)]
    vectors = np.random.default_rng(0).normal(size=(len(words) + 2, m.word_dim)).astype(np.float32)
    vectors[:2] = 0.0
    with tempfile.TemporaryDirectory(prefix="mgpn-served-") as tmp:
        start = time.perf_counter()
        out = export_saved_model(model, cfg, ["<pad>", "<unk>"] + words, vectors,
                                 os.path.join(tmp, "mgpn", "1"), precision=job["precision"])
        export_s = time.perf_counter() - start
        with open(os.path.join(out, "mgpn_export.json"), encoding="utf-8") as f:
            info = json.load(f)
        request = {k: job[k] for k in ("batch", "tokens", "warmup", "iterations")}
        request.update(export=str(out), words=words[:200], clips=m.num_sample_clips, width=m.input_size)
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        env.pop("PYTHONPATH", None)  # nothing of mgpn_keras in the serving process
        (timed,) = run_batch([sys.executable, SERVED_TIMER], [request], timeout=1800, env=env, cwd=tmp,
                             on_failure=_served_timer_failed)
    score_dtype, served_rss = timed.pop("score_dtype"), timed.pop("peak_rss_gb")
    return dict(job, **timed, per_s=round(job["batch"] / timed["median_s"], 3), peak_rss_gb=served_rss,
                trainable_parameters=count_trainable_parameters(model), layout=info["layout"],
                export_s=round(export_s, 1), score_dtype=score_dtype,
                note="; ".join(filter(None, [job["note"], f"SavedModel, {info['layout']} layout, "
                                                          "fresh tensorflow-only process"])))


def _served_timer_failed(request: dict, message: str):
    raise RuntimeError(f"served timer: {message}")


def job_error(job: dict, exc: BaseException) -> dict:
    """The result of a job that raised: the job, the error, the peak memory so far."""
    return dict(job, error=f"{type(exc).__name__}: {exc}", peak_rss_gb=peak_rss_gb())
