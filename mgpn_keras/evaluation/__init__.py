"""Evaluation with the reference protocol (R@n at IoU > m, mIoU).

- `mgpn_keras.evaluation.metrics`: `MomentEvaluator`, `evaluate_moments`, `format_table`.
- `mgpn_keras.evaluation.model_evaluation`: `evaluate_model`, a model on a data set.
- `mgpn_keras.evaluation.callback`: `EvaluationCallback`, the evaluation after every epoch.
- `mgpn_keras.evaluation.run_evaluation`: `evaluate_run`, a run's split (`mgpn evaluate`).
- `mgpn_keras.evaluation.windowed`: `evaluate_run_windowed` (`mgpn evaluate --window`).
"""
