"""Test doubles of TensorFlow Serving: request bodies, the server's conversion of them to
tensors, and a stand-in gRPC PredictionService. Docker and tensorflow_model_server do not run
where the tests run; these do what the server does with a request, so the exported
signatures can be called as a server calls them. They are test tools, not library code.

Requests: `rest_body(...)` writes the JSON of a REST predict call
(`POST /v1/models/mgpn:predict`) in the row ("instances") or columnar ("inputs") format;
`grpc_request(...)` builds a `tensorflow_serving.apis.predict_pb2.PredictRequest` (needs the
optional `tensorflow-serving-api` package).

Tests: `rest_to_tensors(body, input_specs)` converts a body to input tensors following
`tensorflow_serving/util/json_tensor.cc` (FillPredictRequestFromJson): "instances" objects are
stacked per input into a batch, "inputs" values are taken whole, numbers are cast to the
signature's dtype, strings may be {"b64": ...}, NaN and Infinity literals are accepted.
`rest_response(outputs, row_format)` is the reply's JSON ("predictions" or "outputs").

gRPC: `stand_in_prediction_service(signatures)` serves `PredictionService.Predict` over a
real local gRPC channel, as tensorflow_model_server does with a request.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math

import numpy as np


class RestFormatError(ValueError):
    """A body the server would reject before running the model (HTTP 400)."""


def rest_body(queries, video_features, durations, *, row_format: bool = True,
              signature_name: str | None = None) -> dict:
    """The JSON body (as a dict) of a REST predict call.

    Args:
        queries: B sentences.
        video_features: (B, clips, width) raw features (one clip count for the batch).
        durations: B seconds.
        row_format: {"instances": [{query, video_features, duration}, ...]} if True, else
            {"inputs": {"query": [...], "video_features": [...], "duration": [...]}}.
        signature_name: e.g. "score_map"; the default signature when None.
    """
    features = np.asarray(video_features, np.float32)
    queries, durations = list(queries), [float(d) for d in np.asarray(durations, np.float32)]
    if row_format:
        body = {"instances": [{"query": q, "video_features": f.tolist(), "duration": d}
                              for q, f, d in zip(queries, features, durations)]}
    else:
        body = {"inputs": {"query": queries, "video_features": features.tolist(),
                           "duration": durations}}
    if signature_name:
        body = {"signature_name": signature_name, **body}
    return body


def grpc_request(queries, video_features, durations, *, model_name: str = "mgpn",
                 signature_name: str = "serving_default"):
    """A `PredictRequest` for `PredictionServiceStub.Predict` (needs tensorflow-serving-api)."""
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    request.inputs["query"].CopyFrom(tf.make_tensor_proto(list(queries), dtype=tf.string))
    request.inputs["video_features"].CopyFrom(
        tf.make_tensor_proto(np.asarray(video_features, np.float32)))
    request.inputs["duration"].CopyFrom(
        tf.make_tensor_proto(np.asarray(durations, np.float32)))
    return request


# ----------------------------------------------------------------------------- server side
def _dense_shape(value) -> list[int]:
    """GetDenseTensorShape: sizes along the first element of each level."""
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        if not value:
            break
        value = value[0]
    return shape


def _is_b64(value) -> bool:
    return isinstance(value, dict) and set(value) == {"b64"} and isinstance(value["b64"], str)


def _leaf(value, dtype: str):
    if dtype == "string":
        if _is_b64(value):
            try:
                return base64.b64decode(value["b64"], validate=True)
            except ValueError:
                raise RestFormatError("Unable to base64 decode") from None
        if not isinstance(value, str):
            raise RestFormatError(f"JSON Value: {json.dumps(value)} is not of expected type: "
                                  f"string")
        return value.encode("utf-8")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RestFormatError(f"JSON Value: {json.dumps(value)} is not of expected type: {dtype}")
    if dtype == "float32" and math.isfinite(value):
        # IsLosslessDecimal<float>: integers up to 2^24 - 1, other numbers within float range.
        limit = 2 ** 24 - 1 if isinstance(value, int) else float(np.finfo(np.float32).max)
        if abs(value) > limit:
            raise RestFormatError(f"Cannot convert JSON value: {value} to float without loss "
                                  f"of precision.")
    return value


def _fill(value, shape: list[int], level: int, dtype: str, out: list) -> None:
    """FillTensorProto: every leaf at depth len(shape), every list the size of its level."""
    if not isinstance(value, list):
        if level != len(shape):
            raise RestFormatError(f"JSON Value: {json.dumps(value)} found at incorrect level: "
                                  f"{level + 1} in the JSON DOM. Expected at level: {len(shape)}")
        out.append(_leaf(value, dtype))
        return
    if level >= len(shape):
        raise RestFormatError(f"Encountered list at unexpected level: {level} expected < "
                              f"{len(shape)}")
    if len(value) != shape[level]:
        raise RestFormatError(f"Encountered list at unexpected size: {len(value)} at level: "
                              f"{level} expected size: {shape[level]}")
    for item in value:
        _fill(item, shape, level + 1, dtype, out)


def _to_array(value, dtype: str) -> np.ndarray:
    shape = _dense_shape(value)
    flat: list = []
    _fill(value, shape, 0, dtype, flat)
    if dtype == "string":
        return np.array(flat, dtype=object).reshape(shape)
    return np.array(flat, dtype=np.float64).astype(dtype).reshape(shape)


def rest_to_tensors(body, input_specs: dict) -> dict:
    """The input tensors the server makes of a REST predict body.

    Args:
        body: the JSON text or the parsed dict.
        input_specs: input name -> dtype name ("string", "float32", ...), e.g. from
            `signature_input_dtypes(concrete_function)`.

    Returns:
        {name: tf.Tensor}.

    Raises:
        RestFormatError: the server would answer 400 with this message.
    """
    import tensorflow as tf

    if isinstance(body, (str, bytes)):
        body = json.loads(body)  # accepts NaN / Infinity, like the server's parser
    if not isinstance(body, dict):
        raise RestFormatError("JSON Value: the body Is not object")
    if ("instances" in body) == ("inputs" in body):
        raise RestFormatError("Missing 'inputs' or 'instances' key" if "inputs" not in body
                              else "expecting only one of 'inputs' or 'instances' keys to exist")
    names = sorted(input_specs)
    arrays: dict[str, np.ndarray] = {}
    if "instances" in body:
        instances = body["instances"]
        if not isinstance(instances, list) or not instances:
            raise RestFormatError("Excepting 'instances' to be a non-empty list/array")
        objects = isinstance(instances[0], dict) and not _is_b64(instances[0])
        if not objects and len(names) > 1:
            raise RestFormatError("instances is a plain list, but expecting list of objects as "
                                  "multiple input tensors required as per tensorinfo_map")
        rows: dict[str, list[np.ndarray]] = {name: [] for name in names}
        for index, item in enumerate(instances):
            if objects != (isinstance(item, dict) and not _is_b64(item)):
                raise RestFormatError(f"Expecting {'object' if objects else 'value/list'} at "
                                      f"item {index} of input list")
            values = item if objects else {names[0]: item}
            if set(values) != set(names):
                raise RestFormatError(f"Failed to process element: {index} of 'instances' list. "
                                      f"JSON object must only have keys: {','.join(names)}")
            for name in names:
                try:
                    array = _to_array(values[name], input_specs[name])
                except RestFormatError as exc:
                    raise RestFormatError(f"Failed to process element: {index} key: {name} of "
                                          f"'instances' list. Error: {exc}") from None
                if rows[name] and array.shape != rows[name][0].shape:
                    raise RestFormatError(
                        f"Failed to process element: {index} key: {name} of 'instances' list. "
                        f"Error: Expecting shape {list(rows[name][0].shape)} but got: "
                        f"{list(array.shape)}")
                rows[name].append(array)
        arrays = {name: np.stack(rows[name]) for name in names}
    else:
        inputs = body["inputs"]
        if not isinstance(inputs, dict) or _is_b64(inputs):
            if len(names) > 1:
                raise RestFormatError("inputs is a plain value/list, but expecting an object as "
                                      "multiple input tensors required as per tensorinfo_map")
            inputs = {names[0]: inputs}
        for name in names:
            if name not in inputs:
                raise RestFormatError(f"Missing named input: {name} in 'inputs' object.")
            arrays[name] = _to_array(inputs[name], input_specs[name])
    return {name: tf.constant(array, dtype=input_specs[name]) for name, array in arrays.items()}


def signature_input_dtypes(concrete_function) -> dict:
    """input name -> dtype name of a signature (a loaded SavedModel's `signatures[...]`)."""
    specs = concrete_function.structured_input_signature[1]
    return {name: spec.dtype.name for name, spec in specs.items()}


def _json_value(array: np.ndarray):
    if array.dtype == object:
        return [_json_value(a) for a in array] if array.ndim else array.item().decode("utf-8")
    return array.tolist()


def rest_response(outputs: dict, row_format: bool = True) -> dict:
    """The reply body of a REST predict call: {"predictions": [per example]} for an
    "instances" request, {"outputs": {name: batch}} for an "inputs" one."""
    arrays = {name: np.asarray(value) for name, value in outputs.items()}
    if not row_format:
        if len(arrays) == 1:
            return {"outputs": _json_value(next(iter(arrays.values())))}
        return {"outputs": {name: _json_value(a) for name, a in arrays.items()}}
    sizes = {a.shape[0] for a in arrays.values()}
    if len(sizes) != 1:
        raise RestFormatError(f"outputs have different batch sizes {sorted(sizes)}")
    if len(arrays) == 1:
        return {"predictions": _json_value(next(iter(arrays.values())))}
    return {"predictions": [{name: _json_value(a[b]) for name, a in arrays.items()}
                            for b in range(sizes.pop())]}


@contextlib.contextmanager
def stand_in_prediction_service(signatures):
    """A `PredictionServiceStub` on a real gRPC channel to a local stand-in server.

    The server does what tensorflow_model_server does with a request: each TensorProto to a
    tensor (`tf.make_ndarray`, as the server's `Tensor::FromProto`), the named signature of
    `signatures` (a SavedModel's `.signatures`), the outputs back as TensorProtos, and a
    graph error as INVALID_ARGUMENT with its message. Needs grpcio and tensorflow-serving-api.
    """
    from concurrent import futures

    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    class StandIn(prediction_service_pb2_grpc.PredictionServiceServicer):
        def Predict(self, request, context):  # noqa: N802 (the gRPC method's name)
            signature = signatures[request.model_spec.signature_name or "serving_default"]
            inputs = {name: tf.constant(tf.make_ndarray(proto))
                      for name, proto in request.inputs.items()}
            try:
                outputs = signature(**inputs)
            except tf.errors.InvalidArgumentError as exc:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, exc.message)
            response = predict_pb2.PredictResponse()
            response.model_spec.CopyFrom(request.model_spec)
            for name, value in outputs.items():
                response.outputs[name].CopyFrom(tf.make_tensor_proto(value.numpy()))
            return response

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(StandIn(), server)
    port = server.add_insecure_port("localhost:0")
    server.start()
    channel = grpc.insecure_channel(f"localhost:{port}")
    try:
        yield prediction_service_pb2_grpc.PredictionServiceStub(channel)
    finally:
        channel.close()
        server.stop(None)
