"""Trace a Keras model into a graph that any TensorFlow Serving build runs.

Three choices make a traced graph depend on the machine it runs on:

- GRU and LSTM layers pick cuDNN kernels whenever a GPU is visible at trace time; those run
  only on a GPU.
- Grouped convolutions (`Conv2D(groups > 1)`, the choice comparison of Sec. 3.7) are wrapped in
  a `tf.function(jit_compile=True)` by Keras' TensorFlow backend. The stock
  `tensorflow_model_server` starts with XLA:CPU compilation disabled
  (`--xla_cpu_compilation_enabled` defaults to false), so such a graph fails on its first
  request. TensorFlow's own Conv2D kernels run grouped convolutions on GPU, and on CPU only
  where oneDNN is on (TensorFlow turns it off on CPUs without AVX512-VNNI), so `GroupConv2D`
  and the valid-cell convolution trace as one convolution per group, which every build runs.

`portable_tracing(model)` switches all three off while a function is traced, and
`non_portable_parts(graph_def)` lists what would still tie a graph to XLA or cuDNN.
"""

from __future__ import annotations

import contextlib

import tensorflow as tf

# Op types that run on a GPU only, or need XLA compilation.
_DEVICE_OPS = ("CudnnRNN", "CudnnRNNV2", "CudnnRNNV3", "XlaLaunch", "_XlaCompile", "_XlaRun")
_XLA_ATTRS = ("_XlaMustCompile", "_XlaCompile")


def _plain_convolution(layer):
    """`layer.convolution_op` without the XLA wrapper (channels-last 1-3D convolutions)."""

    def convolution_op(inputs, kernel):
        return tf.nn.convolution(inputs, kernel, strides=list(layer.strides),
                                 padding=layer.padding.upper(),
                                 dilations=list(layer.dilation_rate))

    return convolution_op


@contextlib.contextmanager
def portable_tracing(model):
    """While active, the model's RNNs trace without cuDNN, Keras' grouped convolutions
    without XLA and every grouped convolution as one convolution per group. The layers are restored
    afterwards."""
    import keras

    layers = list(model._flatten_layers(include_self=False, recursive=True))
    rnns = [layer for layer in layers if isinstance(layer, (keras.layers.GRU, keras.layers.LSTM))]
    convs = [layer for layer in layers
             if isinstance(layer, (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D))
             and getattr(layer, "groups", 1) > 1 and layer.data_format == "channels_last"]
    from mgpn_keras.grouped_convolution import per_group_kernels

    saved = [layer.use_cudnn for layer in rnns]
    try:
        for layer in rnns:
            layer.use_cudnn = False
        for layer in convs:
            object.__setattr__(layer, "convolution_op", _plain_convolution(layer))
        with per_group_kernels():
            yield
    finally:
        for layer, value in zip(rnns, saved):
            layer.use_cudnn = value
        for layer in convs:
            if "convolution_op" in layer.__dict__:
                object.__delattr__(layer, "convolution_op")


def non_portable_parts(graph_def) -> list[str]:
    """Nodes and functions of a GraphDef (with its function library) that need XLA or cuDNN,
    as readable strings; empty when the graph runs on any TensorFlow Serving build."""
    found = []

    def visit_nodes(nodes, where):
        for node in nodes:
            if node.op in _DEVICE_OPS:
                found.append(f"{where}: node {node.name} is a {node.op} op")
            for attr in _XLA_ATTRS:
                if attr in node.attr and node.attr[attr].b:
                    found.append(f"{where}: node {node.name} has {attr}")

    visit_nodes(graph_def.node, "graph")
    for function in graph_def.library.function:
        name = function.signature.name
        for attr in _XLA_ATTRS:
            if attr in function.attr and function.attr[attr].b:
                found.append(f"function {name} has {attr}")
        visit_nodes(function.node_def, f"function {name}")
    return found
