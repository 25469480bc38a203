"""Serving: the exported SavedModel against in-process prediction, its signature, REST and gRPC
bodies, batching, bad requests, and the `mgpn export` / `mgpn predict` commands.

One tiny run is exported once per module (`served`); every test reuses it.
"""

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import tensorflow as tf

from conftest import tiny_config

WORDS = sorted(["a", "person", "opens", "the", "door", ".", "walks", "to", "window", "closes",
                "sits", "down", "on", "chair", "picks", "up", "cup", "laughs", "then", "he"])
QUERIES = ["A person opens the door.", "he walks to the window", "person sits down",
           "then he picks up a cup and laughs"]
DURATIONS = [30.5, 12.25, 47.0, 8.0]
CLIPS = 37  # raw clips per video: not a multiple of num_sample_clips


# ----------------------------------------------------------------------------- fixtures
def _write_run(root: Path, cfg, model, vocabulary, vectors) -> Path:
    """A run folder as `train` leaves it: config.json, manifest.json, checkpoints/."""
    from mgpn_keras.config import save_config
    from mgpn_keras.datasets.manifest import MANIFEST_NAME, manifest_dict

    data = root / "data"
    data.mkdir()
    np.save(data / "vectors.npy", vectors)
    manifest = manifest_dict(cfg, vocabulary, "vectors.npy", counts={}, dropped={}, shards={},
                             info={})
    (data / MANIFEST_NAME).write_text(json.dumps(manifest), encoding="utf-8")
    run = root / "run"
    (run / "checkpoints").mkdir(parents=True)
    save_config(cfg, run / "config.json")
    (run / "manifest.json").write_text(json.dumps({"manifest": str(data / MANIFEST_NAME)}))
    model.save_weights(run / "checkpoints" / "best.weights.h5")
    return run


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    import keras

    from mgpn_keras import cli
    from mgpn_keras.model import build_mgpn, valid_cell_mask

    root = tmp_path_factory.mktemp("serving")
    cfg = tiny_config()
    keras.utils.set_random_seed(3)
    model = build_mgpn(cfg)
    vocabulary = ["<pad>", "<unk>"] + WORDS
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((len(vocabulary), cfg.model.word_dim)).astype(np.float32)
    vectors[:2] = 0.0
    videos = rng.standard_normal((len(QUERIES), CLIPS, cfg.model.input_size)).astype(np.float32)
    s = SimpleNamespace(cfg=cfg, model=model, vocabulary=vocabulary, vectors=vectors,
                        videos=videos, root=root)
    # An untrained model scores all cells within ~0.01 of each other. Rescale its last layer
    # so that the logits have mean 0 and deviation 1.5: the rankings then hinge on no float
    # rounding (`_assert_no_near_ties` checks it for every input used).
    _, logits = in_process(s, QUERIES, videos, DURATIONS)
    valid = logits[:, valid_cell_mask(cfg) > 0]
    scale = 1.5 / valid.std()
    ranker = model.get_layer("ranker").score
    ranker.kernel.assign(ranker.kernel * scale)
    ranker.bias.assign(scale * (ranker.bias - valid.mean()))
    s.run = _write_run(root, cfg, model, vocabulary, vectors)
    s.export = root / "export" / "mgpn" / "1"
    assert cli.main(["export", "--run-dir", str(s.run), "--out", str(s.export)]) == 0
    s.loaded = tf.saved_model.load(str(s.export))
    s.serve = s.loaded.signatures["serving_default"]
    return s


# ----------------------------------------------------------------------------- helpers
def in_process(s, queries, videos, durations, top_k=None, nms_threshold=None):
    """The reference path: prepare's tokeniser and ids, NumPy features, the Keras model, then
    `mgpn_keras.evaluation.metrics.top_moments`. Returns (moments per query, logits)."""
    from oracles import model_clips, word_ids
    from mgpn_keras.datasets.prepare import tokenize
    from mgpn_keras.evaluation.metrics import top_moments

    cfg = s.cfg
    ids = [word_ids(s.vocabulary, tokens) for tokens in tokenize(list(queries))]
    padded = np.zeros((len(ids), max(map(len, ids))), np.int64)
    for b, row in enumerate(ids):
        padded[b, :len(row)] = row
    clips = np.stack([model_clips(v, cfg.model.num_sample_clips, cfg.data.normalize)
                      for v in videos])
    logits = np.asarray(s.model({"word_vectors": s.vectors[padded],
                                 "query_mask": (padded != 0).astype(np.float32),
                                 "clip_features": clips}, training=False))
    moments = top_moments(logits, np.asarray(durations), cfg.model.num_clips,
                          cfg.eval.nms_threshold if nms_threshold is None else nms_threshold,
                          max(cfg.eval.recall) if top_k is None else top_k, from_logits=True,
                          num_scale_layers=cfg.model.num_scale_layers)
    return moments, logits


def _assert_no_near_ties(s, logits, gap=1e-5):
    from mgpn_keras.evaluation.metrics import joint_probabilities

    prob = joint_probabilities(logits, s.cfg.model.num_scale_layers)
    mask = prob[0] > 0
    for row in prob:
        assert np.diff(np.sort(row[mask])).min() > gap, "near-tied scores: pick another seed"


def call(s, queries, videos, durations, function=None):
    function = function or s.serve
    out = function(query=tf.constant(list(queries)),
                   video_features=tf.constant(np.asarray(videos, np.float32)),
                   duration=tf.constant(np.asarray(durations, np.float32)))
    return {name: value.numpy() for name, value in out.items()}


def assert_same_moments(outputs, expected):
    """Graph outputs {start, end, score} (B, k) against B in-process (k_b, 3) arrays: times
    within 1e-5 s, scores within 1e-5, padding rows after the last moment."""
    for b, moments in enumerate(expected):
        k = len(moments)
        for column, name in enumerate(("start", "end", "score")):
            np.testing.assert_allclose(outputs[name][b, :k], moments[:, column], rtol=0,
                                       atol=1e-5, err_msg=f"{name} of query {b}")
        assert np.all(outputs["score"][b, k:] == -1.0)


# ----------------------------------------------------------------------------- the export
def test_export_folder_and_recorded_facts(served):
    from mgpn_keras.serving.export import EXPORT_INFO_NAME, read_graph_def
    from mgpn_keras.retrieval.portable import non_portable_parts

    cfg, export = served.cfg, served.export
    assert (export / "saved_model.pb").is_file() and (export / "variables").is_dir()
    info = json.loads((export / EXPORT_INFO_NAME).read_text())
    assert info["preset"] == cfg.name and info["top_k"] == max(cfg.eval.recall)
    assert info["nms_threshold"] == cfg.eval.nms_threshold
    assert info["num_clips"] == cfg.model.num_clips and info["input_size"] == cfg.model.input_size
    assert info["source"]["weights"].endswith("best.weights.h5")
    loaded = served.loaded
    assert int(loaded.top_k.numpy()) == max(cfg.eval.recall)
    assert float(loaded.nms_threshold.numpy()) == cfg.eval.nms_threshold
    assert loaded.preset.numpy().decode() == cfg.name
    recorded = json.loads(loaded.metadata_json.numpy())
    assert recorded["num_sample_clips"] == cfg.model.num_sample_clips
    # No XLA cluster (the stock server runs without XLA:CPU) and no cuDNN kernel.
    assert non_portable_parts(read_graph_def(export)) == []
    assert not any(p.name.startswith(".") for p in export.parent.iterdir())  # no temp folder


FRESH_PROCESS = textwrap.dedent("""
    import sys

    import numpy as np
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2
    from tensorflow.python.framework import op_def_registry

    export, inputs, outputs = sys.argv[1:4]
    saved = saved_model_pb2.SavedModel()
    with open(export + "/saved_model.pb", "rb") as f:
        saved.ParseFromString(f.read())
    graph = saved.meta_graphs[0].graph_def
    ops = {n.op for n in graph.node} | {n.op for f in graph.library.function for n in f.node_def}
    not_core = sorted(op for op in ops if op_def_registry.get(op) is None)

    import tensorflow_text  # noqa: F401, E402  (registers its ops, as the model server links them)

    unknown = sorted(op for op in ops if op_def_registry.get(op) is None)
    assert not unknown, f"ops of neither TensorFlow nor tensorflow-text: {unknown}"
    loaded = tf.saved_model.load(export)
    data = np.load(inputs)
    result = loaded.signatures["serving_default"](
        query=tf.constant(data["query"]), video_features=tf.constant(data["video_features"]),
        duration=tf.constant(data["duration"]))
    assert "mgpn_keras" not in sys.modules, "loading the export imported mgpn_keras"
    np.savez(outputs, not_core=np.array(not_core), **{k: v.numpy() for k, v in result.items()})
""")


def test_fresh_process_with_only_tensorflow_gives_the_in_process_moments(served, tmp_path):
    script, inputs, outputs = tmp_path / "load.py", tmp_path / "in.npz", tmp_path / "out.npz"
    script.write_text(FRESH_PROCESS)
    np.savez(inputs, query=np.array(QUERIES), video_features=served.videos,
             duration=np.array(DURATIONS, np.float32))
    done = subprocess.run([sys.executable, str(script), str(served.export), str(inputs),
                           str(outputs)], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    got = dict(np.load(outputs))
    # The only ops outside core TensorFlow are tensorflow-text's (the tokeniser's split).
    assert set(got.pop("not_core")) == {"RegexSplitWithOffsets"}
    expected, logits = in_process(served, QUERIES, served.videos, DURATIONS)
    _assert_no_near_ties(served, logits)
    assert_same_moments(got, expected)
    assert got["start"].shape == (len(QUERIES), max(served.cfg.eval.recall))


def test_saved_model_cli_lists_dynamic_batch_and_clip_dimensions(served):
    cli = Path(sys.executable).parent / "saved_model_cli"
    command = [str(cli)] if cli.exists() else [
        sys.executable, "-m", "tensorflow.python.tools.saved_model_cli"]
    done = subprocess.run(command + ["show", "--dir", str(served.export), "--all"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    text = done.stdout
    block = text[text.index("signature_def['serving_default']"):]
    block = block[:block.index("Method name is: tensorflow/serving/predict")]

    def tensor(kind, name):
        match = re.search(rf"{kind}\['{name}'\] tensor_info:\s+dtype: (\w+)\s+shape: (\([^)]*\))",
                          block)
        assert match, f"{kind} {name} missing from:\n{block}"
        return match.groups()

    assert tensor("inputs", "query") == ("DT_STRING", "(-1)")
    assert tensor("inputs", "video_features") == ("DT_FLOAT", "(-1, -1, -1)")
    assert tensor("inputs", "duration") == ("DT_FLOAT", "(-1)")
    k = max(served.cfg.eval.recall)
    for name in ("start", "end", "score"):
        assert tensor("outputs", name) == ("DT_FLOAT", f"(-1, {k})")
    assert "signature_def['score_map']" in text


# ----------------------------------------------------------------------------- requests
def test_rest_instances_and_inputs_bodies_give_the_same_answer(served):
    from tf_serving_doubles import rest_body, rest_response, rest_to_tensors, signature_input_dtypes

    dtypes = signature_input_dtypes(served.serve)
    assert dtypes == {"query": "string", "video_features": "float32", "duration": "float32"}
    direct = call(served, QUERIES, served.videos, DURATIONS)
    for row_format in (True, False):
        body = json.dumps(rest_body(QUERIES, served.videos, DURATIONS, row_format=row_format))
        tensors = rest_to_tensors(body, dtypes)
        np.testing.assert_array_equal(tensors["video_features"].numpy(), served.videos)
        out = {k: v.numpy() for k, v in served.serve(**tensors).items()}
        for name in direct:
            np.testing.assert_array_equal(out[name], direct[name])
        reply = json.loads(json.dumps(rest_response(out, row_format)))
        if row_format:
            assert [p["start"] for p in reply["predictions"]] == out["start"].tolist()
        else:
            assert reply["outputs"]["score"] == out["score"].tolist()
    # A query sent as base64 bytes is the same query.
    import base64

    body = rest_body(QUERIES[:1], served.videos[:1], DURATIONS[:1])
    body["instances"][0]["query"] = {"b64": base64.b64encode(QUERIES[0].encode()).decode()}
    out = {k: v.numpy() for k, v in served.serve(**rest_to_tensors(body, dtypes)).items()}
    np.testing.assert_array_equal(out["start"], direct["start"][:1])
    expected, _ = in_process(served, QUERIES, served.videos, DURATIONS)
    assert_same_moments(direct, expected)


def test_rest_bodies_the_server_rejects(served):
    from tf_serving_doubles import RestFormatError, rest_body, rest_to_tensors

    dtypes = {"query": "string", "video_features": "float32", "duration": "float32"}
    body = rest_body(QUERIES[:2], served.videos[:2], DURATIONS[:2])
    body["instances"][1]["video_features"] = served.videos[1, :5].tolist()
    with pytest.raises(RestFormatError, match="Expecting shape"):
        rest_to_tensors(body, dtypes)
    with pytest.raises(RestFormatError, match="only have keys"):
        rest_to_tensors({"instances": [{"query": "door"}]}, dtypes)
    with pytest.raises(RestFormatError, match="Missing 'inputs' or 'instances'"):
        rest_to_tensors({"signature_name": "serving_default"}, dtypes)


@pytest.fixture
def grpc_stub(served):
    """A PredictionService stub on a real gRPC channel to the stand-in server of
    tf_serving_doubles, which runs the export's signatures as tensorflow_model_server would."""
    pytest.importorskip("grpc")
    pytest.importorskip("tensorflow_serving.apis")
    from tf_serving_doubles import stand_in_prediction_service

    with stand_in_prediction_service(served.loaded.signatures) as stub:
        yield stub


def test_grpc_client_call_gives_the_same_answer(served, grpc_stub):
    import grpc
    from tensorflow_serving.apis import predict_pb2

    from tf_serving_doubles import grpc_request

    # The client code of docs/serving.md.
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "mgpn"
    request.model_spec.signature_name = "serving_default"
    request.inputs["query"].CopyFrom(tf.make_tensor_proto(QUERIES))
    request.inputs["video_features"].CopyFrom(tf.make_tensor_proto(served.videos))
    request.inputs["duration"].CopyFrom(tf.make_tensor_proto(np.array(DURATIONS, np.float32)))
    assert request == grpc_request(QUERIES, served.videos, DURATIONS)
    response = grpc_stub.Predict(request, timeout=60.0)
    out = {name: tf.make_ndarray(response.outputs[name]) for name in ("start", "end", "score")}
    direct = call(served, QUERIES, served.videos, DURATIONS)
    for name in direct:
        np.testing.assert_array_equal(out[name], direct[name])
    expected, _ = in_process(served, QUERIES, served.videos, DURATIONS)
    assert_same_moments(out, expected)

    bad = grpc_request(QUERIES[:1], served.videos[:1, :, :20], DURATIONS[:1])
    with pytest.raises(grpc.RpcError) as error:
        grpc_stub.Predict(bad, timeout=60.0)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "video_features has width 20, this model expects 24" in error.value.details()


def test_a_batch_of_queries_of_different_lengths_equals_one_at_a_time(served):
    queries = ["door", "he walks to the window", "person sits down on the chair then laughs",
               "a person opens the door"]
    batch = call(served, queries, served.videos, DURATIONS)
    expected, logits = in_process(served, queries, served.videos, DURATIONS)
    _assert_no_near_ties(served, logits)
    assert_same_moments(batch, expected)
    for b in range(len(queries)):
        alone = call(served, queries[b:b + 1], served.videos[b:b + 1], DURATIONS[b:b + 1])
        np.testing.assert_array_equal(alone["start"][0], batch["start"][b])
        np.testing.assert_array_equal(alone["end"][0], batch["end"][b])
        np.testing.assert_allclose(alone["score"][0], batch["score"][b], rtol=0, atol=1e-5)


def test_any_clip_count_and_the_score_map_signature(served):
    cfg = served.cfg
    for clips in (1, 5, cfg.model.num_sample_clips, 101):
        videos = np.random.default_rng(clips).standard_normal(
            (1, clips, cfg.model.input_size)).astype(np.float32)
        expected, logits = in_process(served, QUERIES[:1], videos, [20.0])
        _assert_no_near_ties(served, logits)
        assert_same_moments(call(served, QUERIES[:1], videos, [20.0]), expected)
    from mgpn_keras.evaluation.metrics import joint_probabilities

    maps = call(served, QUERIES, served.videos, DURATIONS,
                served.loaded.signatures["score_map"])["score_map"]
    _, logits = in_process(served, QUERIES, served.videos, DURATIONS)
    np.testing.assert_allclose(maps, joint_probabilities(logits, cfg.model.num_scale_layers),
                               rtol=0, atol=1e-5)


def _bad(s, **change):
    request = {"query": QUERIES[:2], "video_features": s.videos[:2],
               "duration": np.array(DURATIONS[:2], np.float32)}
    request.update(change)
    return request


@pytest.mark.parametrize("case, message", [
    ("width", r"video_features has width 20, this model expects 24 \(preset synthetic\)"),
    ("no_clips", r"video_features has no clips"),
    ("empty_query", r"query 1 is empty"),
    ("blank_query", r"query 0 is empty"),
    ("unknown_query", r"query 1 has no word in the vocabulary of this model .* the query was: "
                      r"xyzzy plugh"),
    ("punctuation_query", r"query 0 has no word in the vocabulary"),
    ("nan_features", r"video_features of example 1 hold a NaN or infinite value"),
    ("inf_features", r"video_features of example 0 hold a NaN or infinite value"),
    ("zero_duration", r"duration of example 1 is 0 seconds, expected a positive"),
    ("negative_duration", r"duration of example 0 is -3 seconds"),
    ("nan_duration", r"duration of example 0 is nan seconds"),
    ("batch_duration", r"batch sizes differ: query has 2, video_features 2, duration 3"),
    ("batch_query", r"batch sizes differ: query has 1, video_features 2, duration 2"),
    ("no_examples", r"the request has no examples"),
])
def test_bad_requests_fail_with_a_clear_message(served, case, message):
    v = served.videos[:2].copy()
    request = {
        "width": lambda: _bad(served, video_features=v[..., :20]),
        "no_clips": lambda: _bad(served, video_features=v[:, :0]),
        "empty_query": lambda: _bad(served, query=["door", ""]),
        "blank_query": lambda: _bad(served, query=["  \t ", "door"]),
        "unknown_query": lambda: _bad(served, query=["door", "xyzzy plugh"]),
        "punctuation_query": lambda: _bad(served, query=[". . .", "door"]),
        "nan_features": lambda: _bad(served, video_features=np.where(
            np.arange(2)[:, None, None] == 1, np.nan, v).astype(np.float32)),
        "inf_features": lambda: _bad(served, video_features=np.where(
            np.arange(2)[:, None, None] == 0, np.inf, v).astype(np.float32)),
        "zero_duration": lambda: _bad(served, duration=np.array([3.0, 0.0], np.float32)),
        "negative_duration": lambda: _bad(served, duration=np.array([-3.0, 2.0], np.float32)),
        "nan_duration": lambda: _bad(served, duration=np.array([np.nan, 2.0], np.float32)),
        "batch_duration": lambda: _bad(served, duration=np.ones(3, np.float32)),
        "batch_query": lambda: _bad(served, query=["door"]),
        "no_examples": lambda: _bad(served, query=np.array([], object), video_features=v[:0],
                                    duration=np.zeros(0, np.float32)),
    }[case]()
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        served.serve(query=tf.constant(request["query"], tf.string),
                     video_features=tf.constant(request["video_features"], tf.float32),
                     duration=tf.constant(request["duration"], tf.float32))


def test_bad_request_through_a_rest_body_fails_in_the_graph(served):
    from tf_serving_doubles import rest_to_tensors, signature_input_dtypes

    body = {"inputs": {"query": ["door", "door"], "video_features": served.videos[:2].tolist(),
                       "duration": [3.0]}}
    tensors = rest_to_tensors(json.dumps(body), signature_input_dtypes(served.serve))
    with pytest.raises(tf.errors.InvalidArgumentError, match="batch sizes differ"):
        served.serve(**tensors)
    body = {"instances": [{"query": "door", "video_features": [[float("nan")] * 24],
                           "duration": 3.0}]}
    tensors = rest_to_tensors(json.dumps(body), signature_input_dtypes(served.serve))
    with pytest.raises(tf.errors.InvalidArgumentError, match="NaN or infinite"):
        served.serve(**tensors)


# ----------------------------------------------------------------------------- graph pieces
@pytest.mark.parametrize("clips", [1, 2, 31, 32, 33, 64, 100, 257])
def test_in_graph_averaging_equals_the_reference_exactly(clips):
    import oracles as features
    from mgpn_keras.protocol.clip_averaging import average_to_fixed_length
    from mgpn_keras.protocol.l2_normalize import l2_normalize

    x = np.random.default_rng(clips).standard_normal((2, clips, 7)).astype(np.float32)
    got = average_to_fixed_length(tf.constant(x), 32).numpy()
    np.testing.assert_array_equal(got, np.stack([features.average_to_fixed_length(v, 32)
                                                 for v in x]))
    np.testing.assert_allclose(l2_normalize(tf.constant(x)).numpy(),
                               np.stack([features.l2_normalize(v) for v in x]), rtol=1e-6,
                               atol=1e-7)


@pytest.mark.parametrize("num_clips, scales, top_k, threshold", [
    (8, [3, 2], 5, 0.45), (16, [15], 5, 0.44), (32, [15, 8], 10, 0.5), (8, [3, 2], 20, 0.3)])
def test_in_graph_nms_equals_the_reference_exactly(num_clips, scales, top_k, threshold):
    from mgpn_keras.valid_cells.geometry import valid_mask
    from mgpn_keras.evaluation.metrics import top_moments
    from mgpn_keras.protocol import nms

    rng = np.random.default_rng(num_clips + top_k)
    logits = rng.standard_normal((3, num_clips, num_clips)).astype(np.float32) * 2
    prob = (1 / (1 + np.exp(-logits)) * valid_mask(num_clips, scales)).astype(np.float32)
    duration = np.array([30.5, 12.25, 100.0], np.float32)
    got = nms.top_moments(tf.constant(prob), tf.constant(duration), num_clips, threshold,
                              top_k)
    got = {k: v.numpy() for k, v in got.items()}
    for b, expected in enumerate(top_moments(prob, duration, num_clips, threshold, top_k)):
        k = len(expected)
        np.testing.assert_array_equal(got["start"][b, :k], expected[:, 0].astype(np.float32))
        np.testing.assert_array_equal(got["end"][b, :k], expected[:, 1].astype(np.float32))
        np.testing.assert_array_equal(got["score"][b, :k], expected[:, 2].astype(np.float32))
        assert np.all(got["score"][b, k:] == nms.NO_MOMENT_SCORE)


def test_portable_tracing_avoids_cudnn_and_xla(served):
    """Traced as Keras does on a GPU machine, the GRUs use cuDNN kernels, and a Keras grouped
    Conv2D is an XLA cluster anywhere; under `portable_tracing` neither is."""
    from unittest import mock

    import keras

    from mgpn_keras.retrieval.portable import non_portable_parts, portable_tracing

    def traced(model, spec):
        function = tf.function(lambda x: model(x, training=False))
        graph = function.get_concrete_function(spec).graph.as_graph_def()
        return " ".join(non_portable_parts(graph))

    m = served.cfg.model
    spec = {"word_vectors": tf.TensorSpec([None, None, m.word_dim]),
            "query_mask": tf.TensorSpec([None, None]),
            "clip_features": tf.TensorSpec([None, m.num_sample_clips, m.input_size])}
    try:
        gpu = mock.patch("keras.src.backend.tensorflow.rnn._is_gpu_available", return_value=True)
        gpu.start()
    except (AttributeError, ModuleNotFoundError):
        pytest.skip("this Keras has no keras.src.backend.tensorflow.rnn._is_gpu_available")
    try:
        assert "CudnnRNNV3" in traced(served.model, spec)
        with portable_tracing(served.model):
            assert traced(served.model, spec) == ""
    finally:
        gpu.stop()

    inputs = keras.Input((4, 4, 8))
    conv = keras.layers.Conv2D(8, 3, padding="same", groups=4)
    grouped = keras.Model(inputs, conv(inputs))
    spec = tf.TensorSpec([None, 4, 4, 8])
    assert "_XlaMustCompile" in traced(grouped, spec)
    with portable_tracing(grouped):
        assert traced(grouped, spec) == ""
    assert "convolution_op" not in vars(conv)  # restored
    x = tf.random.normal([2, 4, 4, 8])
    with portable_tracing(grouped):
        plain = grouped(x)
    np.testing.assert_allclose(plain.numpy(), grouped(x).numpy(), rtol=0, atol=1e-5)


# ----------------------------------------------------------------------------- commands
def test_export_command_options_and_errors(served):
    from mgpn_keras import cli

    run, base = str(served.run), served.export.parent
    with pytest.raises(SystemExit, match="integer version folder"):
        cli.main(["export", "--run-dir", run, "--out", str(base / "latest")])
    with pytest.raises(SystemExit, match="is not empty; pass --overwrite"):
        cli.main(["export", "--run-dir", run, "--out", str(served.export)])
    empty = served.root / "run_without_weights"
    empty.mkdir()
    with pytest.raises(SystemExit, match="config file .* does not exist"):
        cli.main(["export", "--run-dir", str(empty), "--out", str(base / "9")])
    for name in ("config.json", "manifest.json"):
        (empty / name).write_bytes((served.run / name).read_bytes())
    with pytest.raises(SystemExit, match="has no weights: expected .*best.weights.h5"):
        cli.main(["export", "--run-dir", str(empty), "--out", str(base / "9")])
    assert not (base / "9").exists()
    # Overrides of k and the NMS threshold are recorded and used.
    assert cli.main(["export", "--run-dir", run, "--out", str(base / "2"), "--top-k", "3",
                     "--nms-threshold", "0.3"]) == 0
    loaded = tf.saved_model.load(str(base / "2"))
    assert int(loaded.top_k.numpy()) == 3 and float(loaded.nms_threshold.numpy()) == 0.3
    out = call(served, QUERIES, served.videos, DURATIONS, loaded.signatures["serving_default"])
    assert out["start"].shape == (len(QUERIES), 3)
    expected, _ = in_process(served, QUERIES, served.videos, DURATIONS, top_k=3,
                             nms_threshold=0.3)
    assert_same_moments(out, expected)


def test_predict_command_prints_moments_and_plots(served, tmp_path, capsys):
    from mgpn_keras import cli

    video = tmp_path / "video.npy"
    np.save(video, served.videos[0])
    plot = tmp_path / "out.png"
    assert cli.main(["predict", "--export", str(served.export), "--features", str(video),
                     "--duration", str(DURATIONS[0]), "--query", QUERIES[0], "--query",
                     QUERIES[1], "--gt", "3", "9.5", "--plot", str(plot), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    expected, _ = in_process(served, QUERIES[:2], served.videos[[0, 0]], DURATIONS[:1] * 2)
    for row, moments in zip(printed, expected):
        got = np.array([[m["start"], m["end"], m["score"]] for m in row["moments"]])
        np.testing.assert_allclose(got, moments, rtol=0, atol=1e-5)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 10_000

    # The same video from an .hdf5 file, as a table.
    import h5py

    store = tmp_path / "features.hdf5"
    with h5py.File(store, "w") as f:
        f["vid_1"] = served.videos[0]
    assert cli.main(["predict", "--export", str(served.export), "--features", str(store),
                     "--video-id", "vid_1", "--duration", str(DURATIONS[0]), "--query",
                     QUERIES[0], "--gt", "3", "9.5"]) == 0
    table = capsys.readouterr().out
    assert f"query: {QUERIES[0]}" in table and "IoU" in table
    first = expected[0][0]
    assert f"{first[0]:10.2f}  {first[1]:8.2f}  {first[2]:6.4f}" in table


def test_predict_command_reports_the_graph_check(served, tmp_path):
    from mgpn_keras import cli

    video = tmp_path / "wide.npy"
    np.save(video, np.ones((10, 30), np.float32))
    with pytest.raises(SystemExit, match="video_features has width 30, this model expects 24"):
        cli.main(["predict", "--export", str(served.export), "--features", str(video),
                  "--duration", "10", "--query", "door"])
    with pytest.raises(SystemExit, match="pass --video-id"):
        cli.main(["predict", "--export", str(served.export), "--features", str(tmp_path),
                  "--duration", "10", "--query", "door"])


# ----------------------------------------------------------------------------- under load
def test_many_threads_on_one_loaded_model_give_the_sequential_answers(served):
    """8 threads share one loaded SavedModel: 96 requests of mixed batch sizes, query lengths
    and clip counts, a tenth of them bad. Every good answer equals the sequential one bit for
    bit; every bad one fails alone with its InvalidArgumentError."""
    from mgpn_keras.serving.load_check import make_requests, run_load, sequential_answers

    requests = make_requests(WORDS, served.cfg.model.input_size, 96, seed=1, max_batch=6,
                             clip_range=(4, 60), bad_fraction=0.1)
    expected = sequential_answers(served.serve, requests)
    bad = sum(r.bad is not None for r in requests)
    assert bad >= 5 and all(isinstance(e, tf.errors.InvalidArgumentError) == (r.bad is not None)
                            for r, e in zip(requests, expected))
    result = run_load(served.serve, requests, expected, threads=8, time_limit=300)
    assert result["problems"] == [] and result["requests"] == 96
    assert result["mismatches"] == 0 and result["errors"] == 0
    assert result["bad_rejected"] == result["bad_total"] == bad
