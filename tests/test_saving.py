"""Saving and loading as Keras users expect: a `.keras` file and a preset folder reload in a
fresh process after nothing but `import mgpn_keras`, and give the same outputs."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import tiny_config

ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")

RELOAD = textwrap.dedent("""
    import sys
    import numpy as np
    import mgpn_keras
    import keras
    inputs = dict(np.load(sys.argv[1]))
    expected = inputs.pop("expected")
    from_file = keras.saving.load_model(sys.argv[2])
    from_folder = mgpn_keras.from_preset(sys.argv[3])
    for name, model in (("keras", from_file), ("preset", from_folder)):
        got = np.asarray(model(inputs, training=False))
        print(name, float(np.abs(got - expected).max()))
    print("loss", type(from_file.loss).__name__)
""")


def _inputs(cfg, batch=2, tokens=5, seed=0):
    rng = np.random.default_rng(seed)
    m = cfg.model
    return {"word_vectors": rng.normal(size=(batch, tokens, m.word_dim)).astype("float32"),
            "query_mask": (np.arange(tokens)[None] < np.array([[tokens], [3]])).astype("float32"),
            "clip_features": rng.random((batch, m.num_sample_clips, m.input_size)).astype("float32")}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    import keras

    from mgpn_keras.model import build_mgpn
    from mgpn_keras.runs.presets import save_to_preset
    from mgpn_keras.training.trainer import compile_model

    root = tmp_path_factory.mktemp("saved")
    cfg = tiny_config()
    keras.utils.set_random_seed(4)
    model = compile_model(build_mgpn(cfg), cfg)
    inputs = _inputs(cfg)
    expected = np.asarray(model(inputs, training=False))
    model.save(root / "m.keras")
    vocabulary = ["<pad>", "<unk>", "a", "person", "opens", "the", "door"]
    vectors = np.random.default_rng(1).normal(size=(len(vocabulary), cfg.model.word_dim)).astype("float32")
    save_to_preset(model, root / "preset", cfg, vocabulary, vectors)
    np.savez(root / "inputs.npz", expected=expected, **inputs)
    return root, cfg, vocabulary, vectors, expected


def test_keras_file_and_preset_folder_reload_in_a_fresh_process(saved):
    root = saved[0]
    script = root / "reload.py"
    script.write_text(RELOAD)
    done = subprocess.run([sys.executable, os.fspath(script), os.fspath(root / "inputs.npz"),
                           os.fspath(root / "m.keras"), os.fspath(root / "preset")],
                          env=ENV, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = dict(line.split(maxsplit=1) for line in done.stdout.splitlines())
    assert float(lines["keras"]) < 1e-6 and float(lines["preset"]) < 1e-6
    assert lines["loss"] == "ScaledIoUBCE"  # the compiled loss deserialized too


def test_preset_folder_has_keras_hubs_layout_and_its_assets(saved):
    from mgpn_keras.config import load_config
    from mgpn_keras.runs.presets import load_preset

    root, cfg, vocabulary, vectors, expected = saved
    folder = root / "preset"
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == [
        "assets/vocabulary.txt", "assets/word_vectors.npy", "config.json", "metadata.json",
        "model.weights.h5"]
    assert load_config(folder / "config.json") == cfg  # train.py --config reads it too
    metadata = json.loads((folder / "metadata.json").read_text())
    assert metadata["preset"] == "synthetic" and metadata["vocabulary_size"] == len(vocabulary)
    assert metadata["parameter_count"] >= metadata["trainable_parameter_count"] > 0
    loaded = load_preset(folder)
    assert loaded.config == cfg and loaded.vocabulary == vocabulary
    np.testing.assert_array_equal(loaded.vectors, vectors)
    inputs = dict(np.load(root / "inputs.npz"))
    inputs.pop("expected")
    np.testing.assert_allclose(np.asarray(loaded.model(inputs, training=False)), expected, atol=1e-6)


def test_resolve_model_names_what_a_folder_lacks(saved, tmp_path):
    from mgpn_keras.runs.presets import save_to_preset
    from mgpn_keras.runs.resolve import resolve_model

    root, cfg, vocabulary, vectors, _ = saved
    with pytest.raises(FileNotFoundError, match="neither a model preset folder"):
        resolve_model(tmp_path)
    with pytest.raises(ValueError, match="preset folder.*--weights latest"):
        resolve_model(root / "preset", weights="latest")
    with pytest.raises(ValueError, match="word vectors have shape"):
        save_to_preset(None, tmp_path / "bad", cfg, vocabulary, vectors[:, :3])
    assert not (tmp_path / "bad").exists()


def test_import_mgpn_keras_config_stays_free_of_tensorflow():
    code = "import sys, mgpn_keras.config; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["False", "False"]
