"""Long videos: windowed retrieval (mgpn_keras.retrieval.windowing) in the Python API, the
SavedModel, `mgpn predict` and `mgpn evaluate --window`.

Two models: an `EventDetector` whose answer is known (it scores a cell by how exactly it covers
the clips of one feature direction), for the test that windows find what the whole video
misses; and a tiny MGPN with random weights for the equalities (batched windows against one
window at a time, the SavedModel in a fresh process against the Python path, the whole-video
path bit for bit).
"""

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import tiny_config

WORDS = ["a", "person", "opens", "the", "door", "walks", "in"]
QUERIES = ["a person opens the door", "walks in"]


class EventDetector(keras.Model):
    """Logit of cell (i, j) = 4 x sum over map clips i..j of (2 p_k - 1), p_k the mean of
    channel 0 of the clips pooled into map clip k: the best cell covers exactly the clips
    along channel 0 (the event), whatever the query."""

    def __init__(self, num_clips, **kwargs):
        super().__init__(**kwargs)
        self.num_clips = num_clips

    def call(self, inputs, training=False):
        x = inputs["clip_features"][..., 0]  # (B, S)
        batch = tf.shape(x)[0]
        p = tf.reduce_mean(tf.reshape(x, [batch, self.num_clips, -1]), axis=-1)  # (B, N)
        c = tf.concat([tf.zeros([batch, 1]), tf.cumsum(2.0 * p - 1.0, axis=1)], axis=1)
        return 4.0 * (c[:, None, 1:] - c[:, :-1, None])  # (B, N, N): c[j + 1] - c[i]


def _vocabulary(cfg):
    rng = np.random.default_rng(0)
    vocabulary = ["<pad>", "<unk>"] + WORDS
    vectors = rng.standard_normal((len(vocabulary), cfg.model.word_dim)).astype(np.float32)
    vectors[:2] = 0.0
    return vocabulary, vectors


def _event_video(cfg, clips, event, seed=0):
    """(clips, width) features: background along channel 1, the event's clips along 0."""
    rng = np.random.default_rng(seed)
    video = 0.05 * rng.standard_normal((clips, cfg.model.input_size)).astype(np.float32)
    video[:, 1] += 1.0
    video[event[0]:event[1], 1] -= 1.0
    video[event[0]:event[1], 0] += 1.0
    return video


@pytest.fixture(scope="module")
def mgpn():
    """A tiny MGPN whose logits spread (mean 0, deviation 1.5), so no ranking hinges on float
    rounding; its retrievers by windows of 30 s every 20 s (5 a call) and by whole videos."""
    from mgpn_keras.model import build_mgpn, valid_cell_mask
    from mgpn_keras.retrieval.retriever import MomentRetriever

    cfg = tiny_config(gru_layers=1)  # one GRU layer: windowing is outside the model
    keras.utils.set_random_seed(5)
    model = build_mgpn(cfg)
    vocabulary, vectors = _vocabulary(cfg)
    video = np.random.default_rng(1).standard_normal((60, cfg.model.input_size))
    logits = model({"word_vectors": tf.constant(vectors[None, [2, 3, 4]]),
                    "query_mask": tf.ones([1, 3]),
                    "clip_features": tf.constant(video[None, :cfg.model.num_sample_clips],
                                                 tf.float32)}, training=False).numpy()
    logits = logits[:, valid_cell_mask(cfg) > 0]
    ranker = model.get_layer("ranker").score
    scale = 1.5 / logits.std()
    ranker.kernel.assign(ranker.kernel * scale)
    ranker.bias.assign(scale * (ranker.bias - logits.mean()))
    windowed = MomentRetriever.from_model(model, cfg, vocabulary, vectors, window_seconds=30.0,
                                          window_overlap_seconds=10.0, window_batch=5)
    whole = MomentRetriever.from_model(model, cfg, vocabulary, vectors, window_seconds=None)
    return SimpleNamespace(cfg=cfg, model=model, vocabulary=vocabulary, vectors=vectors,
                           windowed=windowed, whole=whole)


@pytest.fixture(scope="module")
def exported(mgpn, tmp_path_factory):
    """The SavedModel of `mgpn` with the same windows."""
    from mgpn_keras.serving.export import export_saved_model

    # The dense layout of `mgpn.model`, which the Python retrievers run: the test compares the
    # graph's windowing with theirs bit for bit. ("auto" would export the valid-cell layout,
    # whose scores equal the dense ones within 1e-5, not bit for bit: tests/test_inference_layout.py.)
    return export_saved_model(mgpn.model, mgpn.cfg, mgpn.vocabulary, mgpn.vectors,
                              tmp_path_factory.mktemp("export") / "mgpn" / "1",
                              window_seconds=30.0, window_overlap_seconds=10.0, layout="dense")


def test_a_moment_in_a_later_window_is_found_and_whole_video_inference_misses_it():
    from mgpn_keras.protocol.interval_iou import interval_iou
    from mgpn_keras.retrieval.retriever import MomentRetriever

    cfg = tiny_config()
    vocabulary, vectors = _vocabulary(cfg)
    detector = EventDetector(cfg.model.num_clips)
    video = _event_video(cfg, 400, (300, 310))  # 400 s at 1 s a clip, the event at 300-310 s
    windowed = MomentRetriever.from_model(detector, cfg, vocabulary, vectors,
                                          window_seconds=40.0)
    whole = MomentRetriever.from_model(detector, cfg, vocabulary, vectors, window_seconds=None)

    windows = windowed.windows(len(video), 400.0)
    np.testing.assert_allclose(windows[:3], [[0, 40], [20, 60], [40, 80]])
    assert windows[-1, 1] == 400.0 and len(windows) == 19
    found = windowed.retrieve(video, 400.0, QUERIES[0])[0]
    assert found[0, 0] >= windows[0, 1], "the moment lies in a later window"
    np.testing.assert_allclose(found[0, :2], [300.0, 310.0], atol=1e-3)
    assert float(interval_iou(found[0, :2], (300.0, 310.0))) > 0.99
    missed = whole.retrieve(video, 400.0, QUERIES[0])[0]
    assert whole.windows(len(video), 400.0) is None
    assert float(interval_iou(missed[0, :2], (300.0, 310.0))) < 0.5  # a 50 s cell at best


def _one_window_at_a_time(whole, cfg, features, duration, query):
    """The oracle: every window (of 30 s every 20 s) scored alone as a whole video by the
    score_map signature, its proposals shifted to the video's seconds, the union ranked and
    NMS-kept in NumPy."""
    from mgpn_keras.evaluation.metrics import nms_indices, sorted_proposals
    from mgpn_keras.retrieval.windowing import window_bounds

    clip = duration / len(features)
    times, scores = [], []
    for start, end in window_bounds(len(features), duration, 30.0, 20.0):
        first, last = int(round(start / clip)), int(round(end / clip))
        prob = whole.score_map(
            query=tf.constant([query]),
            video_features=tf.constant(features[None, first:last]),
            duration=tf.constant([(last - first) * clip], tf.float32))["score_map"].numpy()
        t, s = sorted_proposals(prob, np.float32((last - first) * np.float32(clip))[None],
                                cfg.model.num_clips)
        times.append(t[0] + start)
        scores.append(s[0])
    times, scores = np.concatenate(times), np.concatenate(scores)
    order = np.argsort(-scores, kind="stable")
    keep = nms_indices(times[order][None], cfg.eval.nms_threshold, max(cfg.eval.recall))[0]
    keep = order[keep[keep >= 0]]
    return np.concatenate([times[keep], scores[keep, None]], axis=-1)


def test_batched_windows_equal_one_window_at_a_time(mgpn):
    from mgpn_keras.retrieval.retriever import MomentRetriever

    cfg = mgpn.cfg
    features = np.random.default_rng(2).standard_normal((237, cfg.model.input_size))
    features = features.astype(np.float32)
    duration = 118.5  # 0.5 s a clip; windows of 30 s every 20 s: 6, the last aligned to the end
    assert len(mgpn.windowed.windows(len(features), duration)) == 6  # two calls: 5 + 1
    one_by_one = MomentRetriever.from_model(mgpn.model, cfg, mgpn.vocabulary, mgpn.vectors,
                                            window_seconds=30.0, window_overlap_seconds=10.0,
                                            window_batch=1)
    batched = mgpn.windowed.retrieve(features, duration, QUERIES)
    for a, b in zip(batched, one_by_one.retrieve(features, duration, QUERIES)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    for q, query in enumerate(QUERIES):
        expected = _one_window_at_a_time(mgpn.whole, cfg, features, duration, query)
        assert batched[q].shape == expected.shape
        np.testing.assert_allclose(batched[q], expected, rtol=0, atol=1e-5)


def test_saved_model_windows_in_the_graph_as_the_python_path(mgpn, exported, tmp_path):
    from mgpn_keras.serving.export import EXPORT_INFO_NAME

    # export_saved_model refuses a graph that would need XLA or cuDNN (retrieval/portable.py).
    cfg, out = mgpn.cfg, exported
    info = json.loads((out / EXPORT_INFO_NAME).read_text())
    assert info["window_seconds"] == 30.0 and info["window_stride_seconds"] == 20.0
    assert {"preset", "top_k", "nms_threshold", "num_clips", "signatures"} <= set(info)

    rng = np.random.default_rng(3)
    long_video = rng.standard_normal((2, 1000, cfg.model.input_size)).astype(np.float32)
    short_video = rng.standard_normal((2, 50, cfg.model.input_size)).astype(np.float32)
    requests = {"long": (long_video, [500.0, 480.0]), "short": (short_video, [25.0, 30.0])}
    np.savez(tmp_path / "requests.npz", **{f"{k}_features": v[0] for k, v in requests.items()},
             **{f"{k}_duration": np.float32(v[1]) for k, v in requests.items()})
    script = textwrap.dedent(f"""
        import json, numpy as np, tensorflow as tf, tensorflow_text
        serve = tf.saved_model.load({str(out)!r}).signatures["serving_default"]
        data = np.load({str(tmp_path / "requests.npz")!r})
        out = {{}}
        for kind in ("long", "short"):
            got = serve(query=tf.constant({QUERIES!r}),
                        video_features=tf.constant(data[kind + "_features"]),
                        duration=tf.constant(data[kind + "_duration"]))
            out[kind] = {{k: v.numpy().tolist() for k, v in got.items()}}
        print(json.dumps(out))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, env={"TF_CPP_MIN_LOG_LEVEL": "3",
                                            "PATH": "/usr/bin:/bin",
                                            # the kernels this process runs (conftest turns
                                            # oneDNN on): bit-for-bit needs the same ones
                                            "TF_ENABLE_ONEDNN_OPTS": os.environ["TF_ENABLE_ONEDNN_OPTS"]})
    assert done.returncode == 0, done.stderr[-2000:]
    served = json.loads(done.stdout.strip().splitlines()[-1])

    python, whole = mgpn.windowed, mgpn.whole
    for kind, (videos, durations) in requests.items():
        for q in range(2):
            expected = python.retrieve(videos[q], durations[q], [QUERIES[q]])[0]
            got = np.stack([served[kind][n][q] for n in ("start", "end", "score")], axis=-1)
            np.testing.assert_allclose(got[:len(expected)], expected, rtol=0, atol=1e-5)
            if kind == "long":
                assert expected[:, 1].max() > 100.0  # moments in the long video's seconds
    # No longer than the window: the whole-video path, bit for bit.
    args = dict(query=tf.constant(QUERIES), video_features=tf.constant(short_video),
                duration=tf.constant([25.0, 30.0]))
    a, b = python.serve(**args), whole.serve(**args)
    for name in ("start", "end", "score"):
        assert np.array_equal(a[name].numpy(), b[name].numpy()), name
        np.testing.assert_array_equal(np.float32(served["short"][name]), a[name].numpy())


def test_bad_window_settings_are_one_line_errors(mgpn):
    from mgpn_keras.config import preset
    from mgpn_keras.serving.predict import error_message
    from mgpn_keras.retrieval.retriever import MomentRetriever
    from mgpn_keras.retrieval.windowing import check_window

    with pytest.raises(ValueError, match=r"^window overlap of 10 s with a window of 10 s: "
                       r"expected an overlap in \[0, 10\) s, shorter than the window$"):
        check_window(10.0, 10.0)
    with pytest.raises(ValueError, match="window_seconds = 0"):
        check_window(0)
    with pytest.raises(ValueError, match="eval.window_overlap_seconds.*shorter than the window"):
        preset("synthetic", eval={"window_seconds": 20.0, "window_overlap_seconds": 25.0})
    with pytest.raises(ValueError, match="overlap"):
        MomentRetriever.from_model(mgpn.model, mgpn.cfg, mgpn.vocabulary, mgpn.vectors,
                                   window_seconds=5.0, window_overlap_seconds=6.0)
    features = np.ones((5, mgpn.cfg.model.input_size), np.float32)  # 40 s a clip over 200 s
    with pytest.raises(ValueError) as caught:
        mgpn.windowed.retrieve(features, 200.0, QUERIES[0])
    message = str(caught.value)
    assert "\n" not in message and message.startswith(
        "window of 30 s is shorter than one clip of the video (5 clips over 200 s = 40 s a clip)")
    # The graph checks it too, for a request that bypasses the Python side.
    with pytest.raises(tf.errors.InvalidArgumentError) as caught:
        mgpn.windowed.serve(query=tf.constant(QUERIES[:1]),
                            video_features=tf.constant(features[None]),
                            duration=tf.constant([200.0]))
    assert error_message(caught.value).startswith("window of 30 s is shorter than one clip")


def test_predict_plot_and_evaluate_window_commands(mgpn, exported, tmp_path, capsys):
    from mgpn_keras import cli
    from mgpn_keras.config import save_config
    from mgpn_keras.datasets.manifest import MANIFEST_NAME, manifest_dict

    cfg, model, vocabulary, vectors = mgpn.cfg, mgpn.model, mgpn.vocabulary, mgpn.vectors
    rng = np.random.default_rng(4)
    # A long-video split in the ActivityNet layout (the synthetic data set's), raw features.
    data, features = tmp_path / "data", tmp_path / "data" / "features"
    features.mkdir(parents=True)
    split = {}
    for v in range(2):
        np.save(features / f"long{v}.npy",
                rng.standard_normal((300 + 40 * v, cfg.model.input_size)).astype(np.float32))
        duration = (300 + 40 * v) * 0.5
        split[f"long{v}"] = {"duration": duration, "timestamps": [[20.0, 30.0], [100.0, 120.0]],
                             "sentences": QUERIES}
    (data / "long.json").write_text(json.dumps(split))
    shards = tmp_path / "shards"
    shards.mkdir()
    np.save(shards / "vectors.npy", vectors)
    stats = {"train": {"videos": {"p99": 40.0}, "moments": {"p99": 12.5}}}
    (shards / MANIFEST_NAME).write_text(json.dumps(manifest_dict(
        cfg, vocabulary, "vectors.npy", {}, {}, {},
        {"data_dir": str(data), "features": str(features), "durations": stats})))
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    save_config(cfg, run / "config.json")
    (run / "manifest.json").write_text(json.dumps({"manifest": str(shards / MANIFEST_NAME)}))
    model.save_weights(run / "checkpoints" / "best.weights.h5")

    predictions = tmp_path / "predictions.json"
    assert cli.main(["evaluate", "--run-dir", str(run), "--split", "long", "--window",
                     "--predictions", str(predictions)]) == 0
    assert "long split, windowed" in capsys.readouterr().out
    results = json.loads((run / "results.json").read_text())
    assert set(results["long@window"]) >= {"R1@0.5", "R1@0.7", "mIoU"}
    rows = json.loads(predictions.read_text())
    assert len(rows) == 4 and all(0 <= m[0] < m[1] <= 170.0 for r in rows for m in r["moments"])
    assert max(m[1] for r in rows for m in r["moments"]) > 25.0  # 25 s: twice the moments' p99

    plot = tmp_path / "timeline.png"
    assert cli.main(["predict", "--export", str(exported), "--features",
                     str(features / "long1.npy"), "--duration", "170", "--query", QUERIES[0],
                     "--gt", "100", "120", "--plot", str(plot)]) == 0
    printed = capsys.readouterr().out
    assert "query: a person opens the door" in printed and plot.stat().st_size > 10_000
    with pytest.raises(SystemExit, match="^mgpn evaluate: error: --window 'soon': expected a number"):
        cli.main(["evaluate", "--run-dir", str(run), "--split", "long", "--window", "soon"])


def test_prepare_records_the_duration_statistics_of_the_default_window(tmp_path):
    from data_layouts import small_config, write_layout

    from mgpn_keras.datasets import load_manifest
    from mgpn_keras.datasets.prepare import prepare
    from mgpn_keras.retrieval.windowing import default_window

    written = write_layout(tmp_path / "data", "activitynet_npy")
    cfg = small_config("activitynet_npy")
    manifest = load_manifest(prepare(cfg, tmp_path / "data", tmp_path / "shards",
                                     progress=False))
    train = written["expected"]["train"]
    moments = np.array([e - s for _, s, e, _, _ in train])
    videos = np.array(sorted({(v, d) for v, _, _, d, _ in train}))[:, 1].astype(float)
    stats = manifest.info["durations"]["train"]
    assert stats["moments"]["count"] == len(train) and stats["videos"]["count"] == len(videos)
    assert stats["moments"]["p99"] == pytest.approx(np.percentile(moments, 99), abs=1e-3)
    assert stats["videos"]["max"] == pytest.approx(videos.max())
    assert default_window(cfg, manifest) == (pytest.approx(2 * stats["moments"]["p99"]), None)
    # A config value wins over the manifest's statistic.
    chosen = dataclasses.replace(cfg, eval=dataclasses.replace(cfg.eval, window_seconds=50.0,
                                                               window_overlap_seconds=5.0))
    assert default_window(chosen, manifest) == (50.0, 5.0)
