"""Hyperparameter search and the paper's ablation variants (docs/tuning.md).

- `search_space.SearchSpace`: the searched config switches (`mgpn tune --search`).
- `hypermodel.MGPNHyperModel`: MGPN as a keras_tuner.HyperModel, trained as train.py does.
- `search.run_search`: a resumable search writing trials.json and best_config.json.
- `variants.paper_variants`: the variants of the paper's Tables 3-4 and Figs. 4-5.
- `cli`: the `mgpn tune` subcommand.

TensorFlow and keras-tuner are imported only by `hypermodel` and `search`.
"""
