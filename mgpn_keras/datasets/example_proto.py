"""The `tf.train.Example` message without TensorFlow: its schema, for the protobuf runtime.

TensorFlow's tensorflow/core/example/{feature,example}.proto declared again here, field for
field (names, numbers, types, packing, the `feature` map), in a descriptor pool of our own:
the protobuf runtime then serialises an `Example` to the bytes `tf.train.Example` gives for
the same values (tested against it, `SerializeToString(deterministic=True)`), and
`tf.io.parse_single_example` reads them. A pool of our own, so that the names do not clash
with TensorFlow's when both are loaded in one process.

Why: `mgpn prepare`'s shard writer then needs no TensorFlow (see `tfrecord_file`).
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto


def _field(name: str, number: int, kind: int, *, repeated: bool = False,
           message: str | None = None, oneof: int | None = None,
           packed: bool = False) -> descriptor_pb2.FieldDescriptorProto:
    field = _F(name=name, number=number, type=kind,
               label=_F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL)
    if message is not None:
        field.type_name = message
    if oneof is not None:
        field.oneof_index = oneof
    if packed:
        field.options.packed = True
    return field


def _schema() -> descriptor_pb2.FileDescriptorProto:
    schema = descriptor_pb2.FileDescriptorProto(
        name="mgpn_keras/tensorflow_example.proto", package="tensorflow", syntax="proto3")
    schema.message_type.add(name="BytesList").field.append(
        _field("value", 1, _F.TYPE_BYTES, repeated=True))
    schema.message_type.add(name="FloatList").field.append(
        _field("value", 1, _F.TYPE_FLOAT, repeated=True, packed=True))
    schema.message_type.add(name="Int64List").field.append(
        _field("value", 1, _F.TYPE_INT64, repeated=True, packed=True))
    feature = schema.message_type.add(name="Feature")
    feature.oneof_decl.add(name="kind")
    feature.field.extend([
        _field("bytes_list", 1, _F.TYPE_MESSAGE, message=".tensorflow.BytesList", oneof=0),
        _field("float_list", 2, _F.TYPE_MESSAGE, message=".tensorflow.FloatList", oneof=0),
        _field("int64_list", 3, _F.TYPE_MESSAGE, message=".tensorflow.Int64List", oneof=0)])
    features = schema.message_type.add(name="Features")
    entry = features.nested_type.add(name="FeatureEntry")
    entry.options.map_entry = True
    entry.field.extend([_field("key", 1, _F.TYPE_STRING),
                        _field("value", 2, _F.TYPE_MESSAGE, message=".tensorflow.Feature")])
    features.field.append(_field("feature", 1, _F.TYPE_MESSAGE, repeated=True,
                                 message=".tensorflow.Features.FeatureEntry"))
    schema.message_type.add(name="Example").field.append(
        _field("features", 1, _F.TYPE_MESSAGE, message=".tensorflow.Features"))
    return schema


_pool = descriptor_pool.DescriptorPool()
_pool.Add(_schema())
Example = message_factory.GetMessageClass(_pool.FindMessageTypeByName("tensorflow.Example"))
