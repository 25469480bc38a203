"""The synthetic benchmark: layout, determinism, distractors, vocabulary, size, baselines."""

import json
from pathlib import Path

import numpy as np
import pytest

from mgpn_keras.datasets import read_annotations, synthetic
from mgpn_keras.datasets.features import open_feature_store
from mgpn_keras.datasets.glove import _embedded
from mgpn_keras.datasets.prepare import tokenize

REPO = Path(__file__).resolve().parents[1]
SMALL = dict(train_queries=60, val_queries=10, test_queries=20)


def _files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_deterministic_for_a_seed_and_reused(tmp_path):
    a = synthetic.write(tmp_path / "a", seed=5, **SMALL)
    b = synthetic.write(tmp_path / "b", seed=5, **SMALL)
    assert _files(a) == _files(b)
    c = synthetic.write(tmp_path / "c", seed=6, **SMALL)
    assert _files(c)["train.json"] != _files(a)["train.json"]
    stamp = (a / "train.json").stat().st_mtime_ns
    assert synthetic.write(a, seed=5, **SMALL) == a
    assert (a / "train.json").stat().st_mtime_ns == stamp  # same parameters: not rewritten
    synthetic.write(a, seed=6, **SMALL)  # other parameters: rewritten, as c
    assert _files(a) == _files(c)


def test_activitynet_layout_and_sizes(tmp_path):
    out = synthetic.write(tmp_path, seed=0, **SMALL)
    marker = json.loads((out / "synthetic.json").read_text())
    for split, count in (("train", 60), ("val", 10), ("test", 20)):
        records = read_annotations("activitynet", out, split)
        assert len(records) == count
        videos = {r.video_id for r in records}
        assert len(videos) == marker["videos"][split]
        with open_feature_store(out / "features") as store:
            for video in videos:
                feats = store.get(video)
                assert feats.shape[1] == 128 and 40 <= feats.shape[0] <= 150
                duration = next(r.duration for r in records if r.video_id == video)
                assert duration == pytest.approx(feats.shape[0] * 0.5)
    splits = [{r.video_id for r in read_annotations("activitynet", out, s)}
              for s in synthetic.SPLITS]
    assert not (splits[0] & splits[1] or splits[0] & splits[2] or splits[1] & splits[2])


def test_every_query_has_distractors_sharing_its_action_and_its_object(tmp_path):
    out = synthetic.write(tmp_path, seed=1, **SMALL)
    for split in synthetic.SPLITS:
        for video, anno in json.loads((out / f"{split}.json").read_text()).items():
            everything = [(a, o) for a, o, _, _ in anno["all_events"]]
            assert 3 <= len(everything) <= 6 and len(set(everything)) == len(everything)
            spans = [(s, e) for _, _, s, e in anno["all_events"]]
            assert all(0 <= s < e <= anno["duration"] for s, e in spans)
            assert all(e1 <= s2 for (_, e1), (s2, _) in zip(spans, spans[1:]))  # in order
            for event, sentence, stamp in zip(anno["events"], anno["sentences"],
                                              anno["timestamps"]):
                action, obj = event.split()
                assert (action, obj, *stamp) in [tuple(x) for x in anno["all_events"]]
                assert any(a == action and o != obj for a, o in everything), video
                assert any(o == obj and a != action for a, o in everything), video
                words = sentence.replace(".", " ").replace(",", " ").split()
                assert any(v in words for v in synthetic.ACTIONS[action])
                assert any(n in words for n in synthetic.OBJECTS[obj])


def _cosine(x, y):
    return float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y)))


def test_event_features_carry_the_codes_of_action_and_object(tmp_path):
    out = synthetic.write(tmp_path, seed=0, **SMALL)
    share_one, share_none = [], []
    for video, anno in json.loads((out / "train.json").read_text()).items():
        feats = np.load(out / "features" / f"{video}.npy").astype(np.float32)
        means = [(a, o, feats[int(round(s / 0.5)):int(round(e / 0.5))].mean(0))
                 for a, o, s, e in anno["all_events"]]
        for i, (a1, o1, m1) in enumerate(means):
            for a2, o2, m2 in means[i + 1:]:
                shared = (a1 == a2) + (o1 == o2)
                (share_one if shared == 1 else share_none).append(_cosine(m1, m2))
    # events that share an action or an object look alike; others share only the scene
    assert np.mean(share_one) > np.mean(share_none) + 0.25


def test_all_words_in_glove_6b_and_templates_shared(tmp_path):
    vocabulary = set(_embedded()[1])  # every word of the embedded GloVe 6B 50d
    assert synthetic.words() <= vocabulary
    out = synthetic.write(tmp_path, seed=0, **SMALL)
    sentences = [r.sentence for s in synthetic.SPLITS
                 for r in read_annotations("synthetic", out, s)]
    tokens = {t for row in tokenize(sentences) for t in row}
    assert tokens <= vocabulary


def test_bad_parameters(tmp_path):
    with pytest.raises(ValueError, match=r"expected 3 <= min_events <= max_events <= 9, got 2"):
        synthetic.write(tmp_path, min_events=2)
    with pytest.raises(ValueError, match=r"expected 18 \(3 x max_events\) <= min_clips"):
        synthetic.write(tmp_path, min_clips=10)


def test_default_size_is_small(tmp_path):
    out = synthetic.write(tmp_path)
    marker = json.loads((out / "synthetic.json").read_text())
    assert marker["queries"] == {"train": 3000, "val": 500, "test": 1000}
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    assert size < 30e6


def test_moment_prior_baseline_stays_low(tmp_path):
    """(a) of the baselines: a prior over normalised moment cells, learned from the training
    annotations, gets little on the synthetic test split (video and query are needed)."""
    from mgpn_keras.config import preset
    from mgpn_keras.datasets import load_manifest
    from mgpn_keras.datasets.prepare import prepare
    from mgpn_keras.training.baselines import evaluate_prior, moment_prior

    cfg = preset("synthetic")
    raw = synthetic.write(tmp_path / "raw")
    manifest = load_manifest(prepare(cfg, raw, tmp_path / "shards", progress=False))
    prior = moment_prior(cfg, manifest)
    assert abs(prior.sum() - 1.0) < 1e-5 and prior.max() < 0.5
    results = evaluate_prior(cfg, manifest, "test")
    assert 0 < results["R1@0.5"] < 0.20 and 0 < results["mIoU"] < 0.25
