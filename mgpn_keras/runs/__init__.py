"""Run folders and preset folders: what they hold and who may write them.

- `mgpn_keras.runs.files`: every file name of a run folder and a preset folder, defined once.
- `mgpn_keras.runs.paths`: `RunPaths`, run folder names, the unfinished run of a preset.
- `mgpn_keras.runs.lock`: `hold_run_folder`, one writer per run folder.
- `mgpn_keras.runs.backup_files`: weights written atomically with their SHA-256, and checked.
- `mgpn_keras.runs.presets`: `save_to_preset`, `load_preset`, `from_preset` (keras-hub's layout).
- `mgpn_keras.runs.resolve`: `resolve_model`, the one resolver of "a trained model".
- `mgpn_keras.runs.results`: `merge_results`, the one writer of results.json.
"""
