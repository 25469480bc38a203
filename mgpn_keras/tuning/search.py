"""A resumable keras-tuner search over MGPN configs, its trial table and best config.

Layout of the output folder D:
    D/search/               keras-tuner's project (oracle.json, trial_*/): the state a
                            rerun with the same D resumes from
    D/search_space.json     the searched dimensions; a rerun must search the same ones
    D/trials.json           one record per trial: values, status, trainable parameters,
                            objective, wall time
    D/best_config.json      the base config with the best trial's values, loadable by
                            `mgpn_keras.config.load_config` and `train.py --config`

Across machines (`distributed.tuner_role`), the chief holds D and writes these files; the
workers, on the same (shared) D, write the trial folders of the trials they run.
"""

from __future__ import annotations

import json
import os
import time

import keras_tuner

from mgpn_keras.atomic import write_json
from mgpn_keras.config import Config, save_config
from mgpn_keras.runs.lock import hold_run_folder
from mgpn_keras.training.epoch_logs import strip_split
from mgpn_keras.tuning.distributed import TunerRole, serve_oracle, tuner_role
from mgpn_keras.tuning.hypermodel import MGPNHyperModel, objective_for
from mgpn_keras.tuning.search_space import ALGORITHMS, SearchSpace

PROJECT = "search"
TRIAL_RECORD = "mgpn_trial.json"


class _RecordsTrials:
    """Tuner mixin: times each trial and writes its parameter count and the id of the tuner
    that ran it beside keras-tuner's files; `trials_run` lists the trials run here."""

    trials_run: tuple = ()

    def run_trial(self, trial, *args, **kwargs):
        start = time.time()
        results = super().run_trial(trial, *args, **kwargs)
        self.trials_run = (*self.trials_run, trial.trial_id)
        record = {"trial_id": trial.trial_id, "tuner_id": self.tuner_id, "seconds": round(time.time() - start, 1),
                  "trainable_parameters": self.hypermodel.last_trainable_parameters,
                  "history": self.hypermodel.last_history}
        write_json(os.path.join(self.get_trial_dir(trial.trial_id), TRIAL_RECORD), record, indent=2)
        return results


class RandomSearch(_RecordsTrials, keras_tuner.RandomSearch):
    pass


class BayesianOptimization(_RecordsTrials, keras_tuner.BayesianOptimization):
    pass


class Hyperband(_RecordsTrials, keras_tuner.Hyperband):
    pass


def make_tuner(hypermodel: MGPNHyperModel, algorithm: str, max_trials: int, epochs: int,
               output_dir: str, strategy=None, seed: int | None = None):
    """A keras-tuner tuner in `output_dir/search`, resumed from there if it exists.

    Args:
        hypermodel: the MGPNHyperModel.
        algorithm: "hyperband", "bayesian" or "random".
        max_trials: trials in all, the resumed ones included (for Hyperband, a cap on
            its brackets' trials).
        epochs: epochs of a trial (Hyperband's max_epochs).
        output_dir: D.
        strategy: the tf.distribute strategy every trial is built and trained under.
        seed: the oracle's seed.
    """
    common = dict(hypermodel=hypermodel, objective=objective_for(hypermodel.base, hypermodel.manifest), directory=output_dir,
                  project_name=PROJECT, overwrite=False, distribution_strategy=strategy, seed=seed)
    if algorithm == "random":
        return RandomSearch(max_trials=max_trials, **common)
    if algorithm == "bayesian":
        _require_bayesian()
        return BayesianOptimization(max_trials=max_trials, **common)
    if algorithm == "hyperband":
        tuner = Hyperband(max_epochs=epochs, factor=3, **common)
        tuner.oracle.max_trials = max_trials  # the base oracle stops creating trials there
        return tuner
    raise ValueError(f"tuner algorithm {algorithm!r}; expected one of {list(ALGORITHMS)}")


def _require_bayesian() -> None:
    try:
        import scipy  # noqa: F401 - keras-tuner's Gaussian process needs both
        import sklearn  # noqa: F401
    except ImportError:
        raise ValueError("the bayesian algorithm needs scipy and scikit-learn: "
                         "pip install 'keras-tuner[bayesian]'") from None


def _check_resumable(output_dir: str, space: SearchSpace, algorithm: str, epochs: int, base: Config) -> None:
    path = os.path.join(output_dir, "search_space.json")
    spec = {"algorithm": algorithm, "space": space.to_dict(), "epochs_per_trial": epochs,
            "base_config": base.to_dict()}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            previous = json.load(f)
        changed = [k for k in spec if previous.get(k) != json.loads(json.dumps(spec[k]))]
        if changed:
            raise ValueError(f"{output_dir!r} holds a search with another {', '.join(changed)} "
                             f"(see {path}); resume it with the same arguments or use another "
                             "--output-dir")
        return
    write_json(path, spec, indent=2)


def run_search(base: Config, manifest, space: SearchSpace, output_dir: str, *, algorithm: str = "random",
               max_trials: int = 10, epochs: int | None = None, strategy=None, verbose: int = 1) -> dict:
    """Run (or resume) a search and write trials.json and best_config.json in `output_dir`.

    Args:
        base: the config the trials start from; best_config.json is `base` with the best
            trial's values (so it keeps `base.train.epochs`, whatever `epochs` is).
        manifest: the prepared data set.
        space: the searched dimensions.
        output_dir: D; a second call with the same D resumes the search. One process at a
            time: another one holding D raises `RunFolderInUse` naming its process id.
        algorithm: "hyperband", "bayesian" or "random".
        max_trials: trials in all, including those already in D.
        epochs: epochs per trial (default `base.train.epochs`).
        strategy: the tf.distribute strategy (default: `make_strategy()`, as train.py).
        verbose: 0 silent, 1 keras-tuner's progress and a table per epoch.

    With the KERASTUNER_* variables set (`distributed.tuner_role`), this process is the chief
    (it serves the oracle, trains nothing, and returns as above once every trial has ended)
    or a worker (it runs the trials the chief hands out on a shared D, and returns
    {"role": "worker", "tuner_id": ..., "trials_run": [trial ids]}).

    Returns:
        {"trials": [record, ...], "best_config": Config or None, "best_trial": record or None}.
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"tuner algorithm {algorithm!r}; expected one of {list(ALGORITHMS)}")
    if max_trials < 1:
        raise ValueError(f"max_trials = {max_trials}; expected a positive integer")
    if algorithm == "bayesian":
        _require_bayesian()
    epochs = int(epochs or base.train.epochs)
    role = tuner_role()
    if role.kind == "worker":  # the chief holds D; one process per worker id
        with hold_run_folder(os.path.join(output_dir, "tuners", role.tuner_id), "tune worker"):
            return _work_for_chief(base, manifest, space, output_dir, algorithm, max_trials,
                                   epochs, strategy, verbose, role)
    # One writer per folder: a second search on it stops here, naming the holder's process id.
    with hold_run_folder(output_dir, "tune"):
        return _search_in_folder(base, manifest, space, output_dir, algorithm, max_trials,
                                 epochs, strategy, verbose, role)


def _tuner_for(base: Config, manifest, space: SearchSpace, output_dir: str, algorithm: str,
               max_trials: int, epochs: int, strategy, verbose: int):
    from mgpn_keras.training.strategy import make_strategy

    strategy = strategy or make_strategy()
    hypermodel = MGPNHyperModel(base, manifest, space, verbose=verbose)
    # keras-tuner takes seed 0 for "no seed"; offset by one so that seed 0 is reproducible too.
    return make_tuner(hypermodel, algorithm, max_trials, epochs, output_dir, strategy,
                      seed=base.train.seed + 1)


def _work_for_chief(base: Config, manifest, space: SearchSpace, output_dir: str, algorithm: str,
                    max_trials: int, epochs: int, strategy, verbose: int, role: TunerRole) -> dict:
    tuner = _tuner_for(base, manifest, space, output_dir, algorithm, max_trials, epochs, strategy, verbose)
    tuner.oracle.get_space()  # waits for the chief, which writes search_space.json first
    if os.path.exists(os.path.join(output_dir, "search_space.json")):
        _check_resumable(output_dir, space, algorithm, epochs, base)  # the chief's search, or refused
    tuner.search(epochs=epochs, verbose=verbose)
    return {"role": "worker", "tuner_id": role.tuner_id, "trials_run": list(tuner.trials_run)}


def _search_in_folder(base: Config, manifest, space: SearchSpace, output_dir: str, algorithm: str,
                      max_trials: int, epochs: int, strategy, verbose: int, role: TunerRole) -> dict:
    _check_resumable(output_dir, space, algorithm, epochs, base)
    tuner = _tuner_for(base, manifest, space, output_dir, algorithm, max_trials, epochs, strategy, verbose)
    if role.kind == "chief":
        serve_oracle(tuner, role, verbose)
    else:
        tuner.search(epochs=epochs, verbose=verbose)

    records = trial_records(tuner, space)
    write_json(os.path.join(output_dir, "trials.json"),
               {"objective": tuner.oracle.objective.name, "algorithm": algorithm,
                "epochs_per_trial": epochs, "trials": records}, indent=2)
    best = [r for r in records if r["status"] == "COMPLETED" and r["objective"] is not None]
    best_record = max(best, key=lambda r: r["objective"]) if best else None
    best_config = None
    if best_record is not None:
        best_config = space.config_for(base, best_record["values"])
        save_config(best_config, os.path.join(output_dir, "best_config.json"))
    return {"trials": records, "best_config": best_config, "best_trial": best_record,
            "objective": tuner.oracle.objective.name}


def trial_records(tuner, space: SearchSpace) -> list[dict]:
    """One dict per trial of the tuner's oracle (resumed ones included), in trial order."""
    records = []
    oracle = tuner.oracle
    # Start order: trial ids are zero-padded to the digits of max_trials, which a resumed
    # search may have changed.
    order = list(dict.fromkeys([*oracle.start_order, *sorted(oracle.trials)]))
    for trial_id in order:
        trial = oracle.trials[trial_id]
        extra = {}
        path = os.path.join(tuner.get_trial_dir(trial_id), TRIAL_RECORD)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                extra = json.load(f)
        values = {k: v for k, v in trial.hyperparameters.values.items() if k in space.names()}
        hyperband = {k: v for k, v in trial.hyperparameters.values.items() if k.startswith("tuner/")}
        records.append({
            "trial_id": trial_id,
            "tuner_id": extra.get("tuner_id"),
            "status": str(getattr(trial.status, "value", trial.status)),
            "values": values,
            "epochs": hyperband.get("tuner/epochs"),
            "trainable_parameters": extra.get("trainable_parameters"),
            "objective": None if trial.score is None else float(trial.score),
            "best_epoch": trial.best_step,
            "seconds": extra.get("seconds"),
            "history": extra.get("history"),
            "message": _last_line(trial.message),
        })
    return records


def format_trial_table(records: list[dict], space: SearchSpace, objective: str) -> str:
    """A plain-text table: trial, searched values, trainable parameters, objective, wall time."""
    value_names = space.names()
    short = {"hidden_size": "hidden", "coarse_encoder": "encoder", "candidate_features": "features",
             "use_fine_grained": "fine", "use_conditioned_interaction": "cond",
             "use_choice_comparison": "comp", "learning_rate": "lr"}
    hyperband = any(r.get("epochs") is not None for r in records)
    header = ["trial", *[short.get(n, n) for n in value_names], *(["epochs"] if hyperband else []),
              "params", strip_split(objective), "time", "status"]
    rows = []
    for r in records:
        values = [_fmt(r["values"].get(n)) for n in value_names]
        epochs = [_fmt(r.get("epochs"))] if hyperband else []
        score = "-" if r["objective"] is None else f"{100 * r['objective']:.2f}"
        params = "-" if r["trainable_parameters"] is None else f"{r['trainable_parameters']:,}"
        seconds = "-" if r["seconds"] is None else f"{r['seconds']:.0f} s"
        rows.append([r["trial_id"], *values, *epochs, params, score, seconds, r["status"]])
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    lines = ["  ".join(str(x).rjust(w) for x, w in zip(row, widths)) for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _last_line(message) -> str | None:
    lines = (message or "").strip().splitlines()
    return lines[-1] if lines else None


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
