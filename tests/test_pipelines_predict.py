"""Batch retrieval on Beam (`mgpn predict --batch`, 2 workers) answers each pair as the
exported SavedModel does for that video; a malformed line is a named error and the rest of
the batch is answered; a corrupt best checkpoint is refused by name, never loaded."""

import json

import numpy as np
import pytest
from conftest import tiny_config

from mgpn_keras import cli

pytest.importorskip("apache_beam")
pytestmark = pytest.mark.slow

WORDS = ["a", "person", "opens", "the", "door", "walks", "to", "window", "sits", "down"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    import keras

    from mgpn_keras.config import save_config
    from mgpn_keras.datasets.manifest import MANIFEST_NAME, manifest_dict
    from mgpn_keras.model import build_mgpn
    from mgpn_keras.runs.backup_files import save_weights

    root = tmp_path_factory.mktemp("batch")
    cfg = tiny_config(groups=1)  # see the report: grouped convolutions fail in the exported graph on CPU here
    keras.utils.set_random_seed(3)
    model = build_mgpn(cfg)
    vocabulary = ["<pad>", "<unk>"] + WORDS
    vectors = np.random.default_rng(0).standard_normal((len(vocabulary), cfg.model.word_dim))
    (root / "data").mkdir()
    np.save(root / "data" / "vectors.npy", vectors.astype(np.float32))
    (root / "data" / MANIFEST_NAME).write_text(json.dumps(manifest_dict(
        cfg, vocabulary, "vectors.npy", counts={}, dropped={}, shards={}, info={})))
    run = root / "run"
    (run / "checkpoints").mkdir(parents=True)
    save_config(cfg, run / "config.json")
    (run / "manifest.json").write_text(json.dumps({"manifest": str(root / "data" / MANIFEST_NAME)}))
    save_weights(model, run / "checkpoints" / "best.weights.h5")  # with its checksum
    export = root / "export" / "1"
    assert cli.main(["export", "--run-dir", str(run), "--out", str(export)]) == 0
    feats = root / "features"
    feats.mkdir()
    rng = np.random.default_rng(1)
    for k, clips in enumerate((20, 37, 64)):
        np.save(feats / f"v{k}.npy", rng.standard_normal((clips, cfg.model.input_size)).astype(np.float32))
    return root, run, export, feats


def test_two_workers_answer_like_the_savedmodel_and_name_bad_lines(exported, tmp_path):
    from mgpn_keras.retrieval.retriever import MomentRetriever

    root, _, export, feats = exported
    queries = ["a person opens the door", "the person walks to the window", "sits down"]
    pairs = [{"video": "v0", "duration": 10.0, "query": queries[0], "id": "a"},
             {"features": str(feats / "v1.npy"), "duration": 18.5, "query": queries[1]},
             "{not json",
             {"video": "v0", "duration": 10.0, "query": queries[2]},
             {"video": "v2", "query": queries[0]},  # no duration
             {"video": "missing", "duration": 5.0, "query": queries[0]},
             {"video": "v2", "duration": 32.0, "query": queries[1]}]
    batch = tmp_path / "pairs.jsonl"
    batch.write_text("".join((p if isinstance(p, str) else json.dumps(p)) + "\n" for p in pairs))
    out = tmp_path / "moments.jsonl"
    assert cli.main(["predict", "--export", str(export), "--features", str(feats), "--batch",
                     str(batch), "--out", str(out), "--workers", "2"]) == 1
    answers = [json.loads(line) for line in out.read_text().splitlines()]
    assert [a["line"] for a in answers] == list(range(1, 8))
    errors = {a["line"]: a["error"] for a in answers if "error" in a}
    assert sorted(errors) == [3, 5, 6], errors
    assert errors[3].startswith(f"{batch}:3: not a JSON object")
    assert errors[5].startswith(f"{batch}:5: 'duration'")
    assert errors[6].startswith(f"{batch}:6:") and "missing" in errors[6]

    retriever = MomentRetriever.from_export(export)
    for a in answers:
        if "error" in a:
            continue
        pair = pairs[a["line"] - 1]
        video = np.load(pair.get("features") or feats / f"{pair['video']}.npy")
        [want] = retriever.retrieve(video, pair["duration"], [pair["query"]])
        got = np.array([[m["start"], m["end"], m["score"]] for m in a["moments"]])
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
        assert a["query"] == pair["query"] and a["id"] == pair.get("id")


def test_a_corrupt_best_checkpoint_is_a_named_error(exported, tmp_path):
    _, run, _, _ = exported
    bad = tmp_path / "run"
    import shutil

    shutil.copytree(run, bad)
    weights = bad / "checkpoints" / "best.weights.h5"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte: same size, other content
    weights.write_bytes(bytes(data))
    with pytest.raises(SystemExit) as info:
        cli.main(["export", "--run-dir", str(bad), "--out", str(tmp_path / "export" / "1")])
    assert "best.weights.h5 is truncated or corrupt" in str(info.value)
    assert not (tmp_path / "export").exists()
