"""The training job: `model.fit` under a tf.distribute strategy, resumable at any step."""

from __future__ import annotations

import contextlib
import os
import time

import keras
import tensorflow as tf

from mgpn_keras.atomic import write_json
from mgpn_keras.config import Config, metric_names, save_config
from mgpn_keras.evaluation.callback import EvaluationCallback
from mgpn_keras.evaluation.metric_sums import worker_shard
from mgpn_keras.evaluation.model_evaluation import evaluate_model, ordered
from mgpn_keras.runs import backup_files
from mgpn_keras.runs.lock import hold_run_folder
from mgpn_keras.runs.paths import RunPaths
from mgpn_keras.runs.results import merge_results
from mgpn_keras.training import strategy as strategy_lib
from mgpn_keras.training.checkpoints import BestCheckpoint
from mgpn_keras.training.epoch_logs import EpochProgressBar, metric_prefix, selection_key
from mgpn_keras.training.resume import StepBackup, TrainingState, restore_backup
from mgpn_keras.training.schedule import learning_rate_for_epoch


def compile_model(model: keras.Model, cfg: Config) -> keras.Model:
    from mgpn_keras.losses import ScaledIoUBCE

    m = cfg.model
    optimizer = keras.optimizers.Adam(
        learning_rate=cfg.train.learning_rate, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
        # The reference clips the global norm over all parameters (clip_grad_norm_).
        global_clipnorm=cfg.train.global_clipnorm)
    loss = ScaledIoUBCE(m.num_clips, m.num_scale_layers, cfg.loss.min_iou, cfg.loss.max_iou)
    weights = None
    if m.window_head:  # the map's loss and the window-presence BCE, trained jointly
        loss = {"score_map": loss,
                "window_presence": keras.losses.BinaryCrossentropy(from_logits=True)}
        weights = {"score_map": 1.0, "window_presence": float(cfg.train.window_loss_weight)}
    model.compile(optimizer=optimizer, loss=loss, loss_weights=weights,
                  jit_compile=cfg.train.jit_compile)
    return model


def absent_settings(manifest, cfg: Config) -> dict | None:
    """`make_dataset`'s `absent` argument for a training epoch (None: the reference's data):
    the negatives' share and window (the retrieval window: `eval.window_seconds`, else the
    default of the training split's statistics), and whether the target has the presence."""
    from mgpn_keras.datasets.durations import default_window_seconds

    share = float(cfg.train.absent_share)
    if share <= 0 and not cfg.model.window_head:
        return None
    window = cfg.eval.window_seconds
    if window is None:
        window = default_window_seconds((manifest.info or {}).get("durations", {}).get("train"))
    if window is None and share > 0:
        raise ValueError(f"train.absent_share = {share:g} needs a window: set eval.window_seconds "
                         f"(the manifest {manifest.path} records no training durations)")
    return {"share": share, "window_seconds": window, "presence": bool(cfg.model.window_head)}


def selection_split(manifest) -> str:
    """The split evaluated every epoch: val where the data set has one (Charades-STA has
    none, and the reference then evaluates on test)."""
    return "val" if manifest.counts.get("val") else "test"


def build_for_training(cfg: Config) -> keras.Model:
    """The seeded, compiled model a run starts from; call it in the strategy's scope.

    `train()` and the tuner's trials both build through here, so a trial and `train.py`
    with the trial's config start from the same weights and dropout seeds.
    """
    from mgpn_keras.model import build_mgpn

    keras.utils.set_random_seed(cfg.train.seed)
    return compile_model(build_mgpn(cfg), cfg)


def epoch_dataset(manifest, cfg: Config, epoch: int, skip: int = 0) -> tf.data.Dataset:
    """The training batches of 0-indexed `epoch`, shuffled with seed `cfg.train.seed + epoch`,
    from batch `skip` on (a resumed epoch)."""
    from mgpn_keras.datasets import make_dataset

    from mgpn_keras.datasets.absent_moments import epoch_queries

    absent = absent_settings(manifest, cfg)
    batches = -(-epoch_queries(manifest.counts["train"], absent["share"] if absent else 0.0)
                // cfg.train.batch_size)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    # The cardinality gives the progress bar its length (records hold whole videos, so
    # tf.data cannot count the batches itself).
    return (make_dataset(manifest, "train", cfg.train.batch_size, training=True,
                         shuffle_seed=cfg.train.seed + epoch, absent=absent)
            .skip(skip).apply(tf.data.experimental.assert_cardinality(batches - skip))
            .with_options(options))


class _LearningRateLog(keras.callbacks.Callback):
    """Puts the epoch's learning rate in its logs (CSV, TensorBoard, keras-tuner)."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs.setdefault("learning_rate", float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))


def fit_epochs(model: keras.Model, cfg: Config, manifest, *, state: TrainingState | None = None,
               epochs: int | None = None, callbacks: list | None = None, backup: StepBackup | None = None,
               strategy: tf.distribute.Strategy | None = None, log_dir: str | None = None,
               verbose: int = 1) -> keras.callbacks.History:
    """The one training loop of `train.py`, `mgpn tune` and the benchmarks.

    Epoch by epoch from `state` (epoch, batch) to `epochs` (default `cfg.train.epochs`):
    sets the step schedule's learning rate, trains on `epoch_dataset` and runs the
    reference evaluation on the selection split, which adds `<split>_<metric>` (`val_R1@0.5`;
    `test_R1@0.5` on Charades-STA, `epoch_logs.selection_key`) to the epoch logs before
    `callbacks` see them; `backup` (a `StepBackup`) runs last.

    Returns:
        A History with one entry per epoch run here (keras-tuner reads its objective
        from it).
    """
    from mgpn_keras.datasets import make_dataset
    from mgpn_keras.training.schedule import learning_rate_for_epoch

    state = state or TrainingState()
    epochs = int(epochs or cfg.train.epochs)
    split = selection_split(manifest)

    def eval_dataset():  # under MultiWorkerMirrored, this worker's part of the split
        return make_dataset(manifest, split, cfg.eval.batch_size, training=False, with_meta=True,
                            shard=worker_shard(strategy))

    all_callbacks = [_LearningRateLog(),
                     EvaluationCallback(eval_dataset, cfg, split, prefix=metric_prefix(split),
                                        log_dir=log_dir, verbose=verbose, strategy=strategy),
                     *(callbacks or []), *([EpochProgressBar()] if verbose else []),
                     *([backup] if backup is not None else [])]
    history = keras.callbacks.History()
    history.set_model(model)
    history.on_train_begin()
    for epoch in range(state.epoch, epochs):
        model.optimizer.learning_rate.assign(learning_rate_for_epoch(cfg, epoch))
        skip = state.step if epoch == state.epoch else 0
        data = epoch_dataset(manifest, cfg, epoch, skip)
        if backup is not None:
            backup.step_offset = skip
        if verbose:
            print(f"epoch {epoch + 1}/{epochs}: learning rate "
                  f"{learning_rate_for_epoch(cfg, epoch):g}" + (f", resuming at batch {skip}" if skip else ""),
                  flush=True)
        with strategy.scope() if strategy is not None else contextlib.nullcontext():
            done = model.fit(data, initial_epoch=epoch, epochs=epoch + 1, callbacks=all_callbacks,
                             shuffle=False, verbose=verbose if verbose else 0)
        history.epoch.extend(done.epoch)
        for key, values in done.history.items():
            history.history.setdefault(key, []).extend(values)
    return history


def train(cfg: Config, manifest_path: str, output_dir: str, *, strategy: tf.distribute.Strategy | None = None,
          verbose: int = 1, eval_splits: tuple[str, ...] | None = None,
          extra_callbacks: list | None = None) -> dict:
    """Train `cfg` on prepared shards, evaluate, and write the run folder.

    The run folder receives `config.json`, `backup/` (resumable state), `checkpoints/`
    (best weights by `cfg.eval.best_metric`), `logs/` (TensorBoard, CSV) and
    `results.json` ({split: metrics}). Calling `train` again with the same folder resumes
    from the last backup. One process at a time writes a run folder (`run_lock.py`): another
    one holding it raises `RunFolderInUse` naming its process id.

    Returns:
        {split: metrics} for the evaluated splits, with the best epoch's weights.
    """
    strategy = strategy or strategy_lib.make_strategy()
    chief = strategy_lib.is_chief(strategy)
    root = output_dir if chief else os.path.join(output_dir, f"worker_{strategy_lib.worker_index(strategy)}")
    # One writer per run folder: a second process on it stops here, before any work.
    with hold_run_folder(root, "train"):
        return _train_in_folder(cfg, manifest_path, RunPaths(root), strategy, chief, verbose,
                                eval_splits, extra_callbacks)


def _train_in_folder(cfg: Config, manifest_path: str, paths: RunPaths, strategy, chief: bool,
                     verbose: int, eval_splits, extra_callbacks) -> dict:
    from mgpn_keras.datasets import check_manifest, load_manifest, make_dataset

    manifest = load_manifest(manifest_path)
    check_manifest(manifest, cfg)
    os.makedirs(paths.root, exist_ok=True)
    if chief:
        save_config(cfg, paths.config)
        write_json(paths.manifest_link, {"manifest": os.path.abspath(os.fspath(manifest_path))})
    split = selection_split(manifest)
    with strategy.scope():
        model = build_for_training(cfg)
        state = restore_backup(model, paths.backup)
    if state.best_epoch and os.path.exists(paths.best_weights):
        backup_files.verify(paths.best_weights)  # fail now, not after the remaining epochs
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        # Keras 3.15's fit() builds metrics from a first batch it all-reduces as a nested
        # structure, which CollectiveAllReduce cannot do ("Attempt to convert a value
        # ({'word_vectors': PerReplica...})"). A model without a pinned strategy skips
        # that step and takes the strategy of the scope that fit() runs in (below).
        model._distribute_strategy = None
        from mgpn_keras.training.keras_compat import patch_multi_worker_reduction

        patch_multi_worker_reduction()
    if state.epoch or state.step:  # said even when quiet: the user should know
        print(f"resuming from {paths.backup}: epoch {state.epoch + 1}, batch {state.step}", flush=True)

    def eval_dataset(which=split):
        return make_dataset(manifest, which, cfg.eval.batch_size, training=False, with_meta=True,
                            shard=worker_shard(strategy))

    backup = StepBackup(paths.backup, state, cfg.train.backup_every_steps)
    callbacks = [
        BestCheckpoint(paths.checkpoints, selection_key(cfg.eval.best_metric, split), state, enabled=True,
                       verbose=verbose),
        # not through atomic.py: a row is appended each epoch; a killed run loses at most the last
        keras.callbacks.CSVLogger(os.path.join(paths.logs, "epochs.csv"), append=True),
        # not through atomic.py: TensorBoard's event files are logs it appends to as it goes
        keras.callbacks.TensorBoard(paths.logs, write_graph=False, profile_batch=0),
        *(extra_callbacks or []),
    ]
    os.makedirs(paths.logs, exist_ok=True)
    start_time = time.time()
    fit_epochs(model, cfg, manifest, state=state, callbacks=callbacks, backup=backup, strategy=strategy,
               log_dir=paths.logs if chief else None, verbose=verbose)
    train_seconds = time.time() - start_time

    if os.path.exists(paths.best_weights):
        backup_files.load_weights(model, paths.best_weights)
    results = {}
    for which in eval_splits or tuple(s for s in ("val", "test") if manifest.counts.get(s)):
        results[which] = ordered(evaluate_model(model, eval_dataset(which), cfg, strategy=strategy), cfg)
    if chief:
        from mgpn_keras.runs.presets import save_to_preset

        save_to_preset(model, paths.preset, cfg, manifest.vocabulary, manifest.vectors)
        merge_results(paths.results, results)
        write_json(paths.summary, {
            "best_epoch": state.best_epoch, f"best_{selection_key(cfg.eval.best_metric, split)}": state.best_value,
            "selection_split": split, "train_seconds_this_process": round(train_seconds, 1),
            "metrics": metric_names(cfg)}, indent=2)
    model.run_paths = paths  # for callers that want the folder layout
    return results
