"""GPU checks and speed, one JSON. Run it through `benchmarks/gpu.sh`.

On a machine with an NVIDIA GPU (at most ~8 minutes):

1. parity: the converted reference fixtures (`shared/fixtures`, `small` and `small_gain`)
   run on the GPU and on the CPU, in both layouts; outputs agree within 1e-4, and each with
   the fixture's score_map;
2. inference queries/s per preset (charades_i3d, activitynet, tacos) at batch 32: both
   layouts x float32 / mixed precision (mixed_float16 on a GPU, mixed_bfloat16 on a CPU) x
   XLA off / on;
3. the training step per preset (dense, float32, the reference's batch: 32, 32, 8);
4. two epochs of the synthetic preset (`synthetic.write` -> `prepare` -> `train`), with
   the epoch times and the test metrics.

`--dry-run` runs the same code on the CPU at tiny sizes and, unless `--presets` says
otherwise, one preset's geometry (the code is the same for every preset), which the test
suite does.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from harness.model_jobs import compiled_for_steps, random_inputs  # noqa: E402  (benchmarks/harness)
from harness.results import utc_now, versions  # noqa: E402
from harness.timing import time_calls  # noqa: E402

PRESETS = ("charades_i3d", "activitynet", "tacos")
TRAIN_BATCH = {"charades_i3d": 32, "activitynet": 32, "tacos": 8}  # the reference's measured batches
TINY_MODEL = dict(input_size=24, word_dim=12, num_sample_clips=32, pool_stride=4, num_clips=8,
                  hidden_size=16, gru_layers=1, num_scale_layers=[3, 2], groups=4, kernel_size=3)
PARITY_ATOL = 1e-4


def _devices():
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return gpus, ("/GPU:0" if gpus else "/CPU:0")


def parity(device, dry_run):
    """Fixtures on `device` against the CPU, both layouts."""
    import numpy as np
    import tensorflow as tf

    from mgpn_keras.convert import config_from_reference, load_reference_weights
    from mgpn_keras.model import build_mgpn

    fixtures = os.path.join(os.path.dirname(ROOT), "shared", "fixtures")
    rows = []
    for name in ("small", "small_gain"):
        config_file = os.path.join(fixtures, f"{name}_config.json")
        if not os.path.isfile(config_file):
            rows.append({"fixture": name, "error": f"not found: {config_file}"})
            continue
        with open(config_file, encoding="utf-8") as f:
            cfg = config_from_reference(json.load(f))
        io = np.load(os.path.join(fixtures, f"{name}_io.npz"))
        feed = {"word_vectors": io["textual_input"].astype(np.float32),
                "query_mask": io["textual_mask"][..., 0].astype(np.float32),
                "clip_features": io["visual_input"].astype(np.float32)}
        for layout in ("dense", "valid_cells"):
            outputs = {}
            # On the CPU itself (--dry-run) the device is the CPU: one run serves both.
            for where in dict.fromkeys((device, "/CPU:0")):
                with tf.device(where):
                    model = build_mgpn(cfg, layout=layout)
                    load_reference_weights(model, os.path.join(fixtures, f"{name}_weights.npz"))
                    outputs[where] = np.asarray(model(feed, training=False))
            device_vs_cpu = float(np.abs(outputs[device] - outputs["/CPU:0"]).max())
            vs_reference = float(np.abs(outputs[device] - io["score_map"][:, 0]).max())
            rows.append({"fixture": name, "layout": layout, "device": device,
                         "max_abs_device_vs_cpu": device_vs_cpu, "max_abs_vs_reference": vs_reference,
                         "ok": device_vs_cpu <= PARITY_ATOL and vs_reference <= PARITY_ATOL})
    return rows


def inference(device, presets, mixed, dry_run):
    import keras
    import tensorflow as tf

    from mgpn_keras.config import preset
    from mgpn_keras.model import build_mgpn

    rows = []
    for p in presets:
        cfg = preset(p, model=TINY_MODEL) if dry_run else preset(p)
        batch = 4 if dry_run else 32
        x = random_inputs(cfg.model, batch)
        for layout in ("dense", "valid_cells"):
            for precision in ("float32", mixed):
                for xla in (False, True):
                    row = {"preset": p, "layout": layout, "precision": precision, "xla": xla, "batch": batch}
                    try:
                        with tf.device(device):
                            keras.utils.set_random_seed(0)
                            model = build_mgpn(cfg, layout=layout, dtype=precision)
                            forward = tf.function(lambda inputs, m=model: m(inputs, training=False),
                                                  jit_compile=xla)
                            start = time.perf_counter()
                            forward(x).numpy()
                            row["first_call_s"] = round(time.perf_counter() - start, 3)
                            # The first call (traced, compiled) is timed apart: no more warm-up.
                            row.update(time_calls(lambda f=forward: f(x).numpy(), 0 if dry_run else 1,
                                                  1 if dry_run else 5, digits=5))
                        row["queries_per_s"] = round(batch / row["median_s"], 2)
                    except Exception as exc:  # noqa: BLE001 - record and go on
                        row["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
                    rows.append(row)
                    print(f"inference {p} {layout} {precision} xla={xla}: "
                          f"{row.get('queries_per_s', row.get('error'))}", flush=True)
    return rows


def train_steps(device, presets, dry_run):
    import keras
    import numpy as np
    import tensorflow as tf

    from mgpn_keras.config import preset
    from mgpn_keras.model import build_mgpn

    rows = []
    for p in presets:
        cfg = preset(p, model=TINY_MODEL) if dry_run else preset(p)
        batch = 4 if dry_run else TRAIN_BATCH[p]
        row = {"preset": p, "batch": batch, "precision": "float32", "layout": "dense"}
        try:
            with tf.device(device):
                keras.utils.set_random_seed(0)
                model = compiled_for_steps(build_mgpn(cfg), cfg)
                x = random_inputs(cfg.model, batch)
                y = np.random.default_rng(1).uniform(size=(batch, cfg.model.num_clips, cfg.model.num_clips))
                y = y.astype(np.float32)
                row.update(time_calls(lambda: model.train_on_batch(x, y), 2 if not dry_run else 1,
                                        5 if not dry_run else 2, digits=5))
            row["samples_per_s"] = round(batch / row["median_s"], 2)
        except Exception as exc:  # noqa: BLE001
            row["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
        rows.append(row)
        print(f"train {p}: {row.get('median_s', row.get('error'))} s/step", flush=True)
    return rows


def synthetic_epochs(device, dry_run):
    import keras
    import tensorflow as tf

    from mgpn_keras.config import preset
    from mgpn_keras.datasets import synthetic
    from mgpn_keras.datasets.prepare import prepare
    from mgpn_keras.training.trainer import train

    # --dry-run: two batches an epoch, a handful of val and test queries.
    sizes = (dict(train_queries=16, val_queries=8, test_queries=8, min_clips=18, max_clips=32,
                  feature_dim=24) if dry_run else {})
    model = dict(TINY_MODEL, word_dim=50) if dry_run else {}
    cfg = preset("synthetic", model=model, train={"epochs": 2, "batch_size": 8 if dry_run else 32})

    class EpochTimes(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(round(time.perf_counter() - self._start, 2))

    with tempfile.TemporaryDirectory(prefix="mgpn-gpu-") as tmp:
        raw = synthetic.write(os.path.join(tmp, "raw"), seed=0, **sizes)
        manifest = prepare(cfg, raw, os.path.join(tmp, "shards"), progress=False)
        timer = EpochTimes()
        start = time.perf_counter()
        with tf.device(device):
            results = train(cfg, os.fspath(manifest), os.path.join(tmp, "run"), verbose=0,
                            extra_callbacks=[timer])
        return {"epochs": 2, "epoch_s": timer.seconds, "wall_s": round(time.perf_counter() - start, 1),
                "results": results, "train_queries": sizes.get("train_queries", 3000)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="the same code on the CPU at tiny sizes")
    parser.add_argument("--output", default=os.path.join(HERE, "results", "gpu.json"), help="the JSON file")
    parser.add_argument("--presets", nargs="+", help=f"default {list(PRESETS)} ({PRESETS[0]} with --dry-run)")
    args = parser.parse_args(argv)
    args.presets = args.presets or ([PRESETS[0]] if args.dry_run else list(PRESETS))

    import tensorflow as tf

    from mgpn_keras.atomic import write_json

    gpus, device = _devices()
    if args.dry_run:
        device = "/CPU:0"
    elif not gpus:
        raise SystemExit("benchmarks/gpu.sh: no GPU visible to TensorFlow (tf.config.list_physical_devices"
                         "('GPU') is empty); run with --dry-run to check the script on a CPU")
    mixed = "mixed_bfloat16" if device == "/CPU:0" else "mixed_float16"
    started = time.time()
    report = {"date": utc_now(),
              "dry_run": bool(args.dry_run), "device": device,
              "gpus": [tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus],
              "versions": versions(),
              "mixed_precision": mixed}
    sections = (("parity", lambda: parity(device, args.dry_run)),
                ("inference", lambda: inference(device, args.presets, mixed, args.dry_run)),
                ("train_step", lambda: train_steps(device, args.presets, args.dry_run)),
                ("synthetic_two_epochs", lambda: synthetic_epochs(device, args.dry_run)))
    failed = []
    for name, run in sections:
        start = time.time()
        try:
            report[name] = run()
        except Exception as exc:  # noqa: BLE001 - a section's failure must not lose the others
            report[name] = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-2000:]}
            failed.append(name)
        report.setdefault("section_s", {})[name] = round(time.time() - start, 1)
        write_json(args.output, report, indent=2)  # what is finished is kept
        print(f"== {name}: {report['section_s'][name]} s", flush=True)
    report["wall_s"] = round(time.time() - started, 1)
    bad_parity = [r for r in report.get("parity", []) if isinstance(r, dict) and not r.get("ok")]
    report["ok"] = not failed and not bad_parity
    write_json(args.output, report, indent=2)
    print(f"wrote {args.output} ({report['wall_s']} s); "
          + ("all sections ran, parity within 1e-4" if report["ok"]
             else f"FAILED: {failed} {[(r.get('fixture'), r.get('layout')) for r in bad_parity]}"))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
