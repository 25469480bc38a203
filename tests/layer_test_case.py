"""Checks in keras-hub's manner (`keras_hub/src/tests/test_case.py`), one helper per kind.

`run_layer_test(example)`: the output shapes the example expects, from an eager call and from
a call on KerasTensors, and the weight counts it expects (trainable and non-trainable); a config
round trip through JSON (the clone computes the same outputs with the same weights); a
training step where the layer has trainable weights; and a mixed-precision dtype policy that
every sublayer takes.
`run_model_saving_test(model, inputs)`: a `.keras` file round trip gives the same outputs.
`assert_config_round_trip(obj)`: serialize -> JSON -> deserialize gives an equal config.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np


@dataclass
class LayerExample:
    """How to build one layer and call it on small inputs.

    make: `make(**extra_kwargs)` -> the layer (extra_kwargs: e.g. a dtype policy).
    args: positional call inputs (NumPy arrays, or lists of them).
    output_shapes: the shape of every output, in `keras.tree.flatten` order, worked out from
        the layer's arguments and the input shapes (never copied from a run).
    trainable_weights, non_trainable_weights: how many weight tensors the built layer holds
        (sublayers included), worked out from its arguments.
    call_kwargs: keyword call inputs (e.g. `mask`).
    skip: check name -> reason, for checks that do not apply (each must say why).
    float32_outputs: the outputs stay float32 under a mixed policy by design (logits that are
        compared across windows or fed to a loss), so the dtype check expects float32 there.
    """

    make: Callable[..., Any]
    args: tuple
    output_shapes: list
    trainable_weights: int
    non_trainable_weights: int
    call_kwargs: dict = field(default_factory=dict)
    skip: dict = field(default_factory=dict)
    float32_outputs: bool = False


CHECKS = ("output_shapes", "symbolic_shapes", "config_round_trip", "training_step", "dtype_policy")


def assert_config_round_trip(obj):
    """serialize -> JSON text -> deserialize: same class and the same config; returns the clone."""
    import keras

    serialized = json.loads(json.dumps(keras.saving.serialize_keras_object(obj)))
    clone = keras.saving.deserialize_keras_object(serialized)
    assert type(clone) is type(obj), (type(clone), type(obj))
    assert clone.get_config() == obj.get_config()
    return clone


def _flat(x):
    import keras

    return keras.tree.flatten(x)


def _symbolic(x):
    import keras

    return keras.tree.map_structure(
        lambda a: keras.KerasTensor(a.shape, dtype=getattr(a, "dtype", None) and str(a.dtype)), x)


def _expected_shapes(example: LayerExample):
    return [tuple(shape) for shape in example.output_shapes]


def _assert_weight_counts(layer, example: LayerExample):
    counts = (len(layer.trainable_weights), len(layer.non_trainable_weights))
    expected = (example.trainable_weights, example.non_trainable_weights)
    assert counts == expected, (layer.name, "(trainable, non-trainable) weights", counts, "expected", expected,
                                [w.path for w in layer.weights])


def build_and_call(example: LayerExample):
    """(layer, flat eager outputs) of a new float32 layer called once on the example inputs."""
    layer = example.make()
    return layer, _flat(layer(*example.args, **example.call_kwargs))


def check_output_shapes(example: LayerExample, built=None):
    """An eager call returns outputs of the expected shapes, and the layer it built holds the
    expected numbers of trainable and non-trainable weights."""
    layer, eager = built or build_and_call(example)
    assert [tuple(t.shape) for t in eager] == _expected_shapes(example), layer.name
    _assert_weight_counts(layer, example)


def check_symbolic_shapes(example: LayerExample):
    """A layer called on KerasTensors (as in a Functional model) infers the expected shapes and
    builds the expected weights."""
    layer = example.make()
    symbolic = _flat(layer(*_symbolic(example.args), **_symbolic(example.call_kwargs)))
    assert [tuple(t.shape) for t in symbolic] == _expected_shapes(example), layer.name
    _assert_weight_counts(layer, example)


def check_config_round_trip(example: LayerExample, built=None):
    layer, out = built or build_and_call(example)
    clone = assert_config_round_trip(layer)
    clone(*example.args, **example.call_kwargs)
    clone.set_weights(layer.get_weights())
    again = _flat(clone(*example.args, **example.call_kwargs))
    for a, b in zip(out, again, strict=True):
        if "float" in str(a.dtype):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6, rtol=0)
        else:
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def check_training_step(example: LayerExample, built=None):
    """Gradients of a loss on the outputs reach the trainable weights, and an SGD step moves them
    (so it runs after the other checks of a shared layer)."""
    import keras
    import tensorflow as tf

    layer, _ = built or build_and_call(example)
    if not layer.trainable_weights:
        return
    with tf.GradientTape() as tape:
        outputs = _flat(layer(*example.args, **example.call_kwargs, training=True))
        loss = sum(tf.reduce_mean(tf.square(tf.cast(o, tf.float32) - 0.5)) for o in outputs
                   if o.dtype.is_floating)
    grads = tape.gradient(loss, layer.trainable_weights)
    assert any(g is not None for g in grads), f"no gradient reaches {layer.name}'s weights"
    assert all(bool(tf.reduce_all(tf.math.is_finite(g))) for g in grads if g is not None)
    before = [np.array(w) for w in layer.trainable_weights]
    keras.optimizers.SGD(0.1).apply_gradients(
        [(g, w) for g, w in zip(grads, layer.trainable_weights) if g is not None])
    assert any(not np.array_equal(b, np.array(w)) for b, w in zip(before, layer.trainable_weights))


def check_dtype_policy(example: LayerExample, policy: str = "mixed_bfloat16"):
    """Under a mixed policy every sublayer, at any depth, has the layer's policy (a sublayer
    built without `dtype=self.dtype_policy` would compute in float32); the variables stay
    float32 and the float outputs are finite and in the compute dtype."""
    from keras.backend import standardize_dtype

    layer = example.make(dtype=policy)
    outputs = _flat(layer(*example.args, **example.call_kwargs))
    assert layer.dtype_policy.name == policy, (layer.name, layer.dtype_policy.name)
    sublayers = layer._flatten_layers(include_self=False, recursive=True)
    others = [(sub.name, sub.dtype_policy.name) for sub in sublayers if sub.dtype_policy.name != policy]
    assert not others, f"{layer.name}: sublayers not under its policy {policy!r}: {others}"
    assert all(standardize_dtype(w.dtype) == "float32" for w in layer.weights), \
        [(w.path, w.dtype) for w in layer.weights]
    for out in outputs:
        if "float" in standardize_dtype(out.dtype):
            expected = "float32" if example.float32_outputs else layer.compute_dtype
            assert standardize_dtype(out.dtype) == expected, (layer.name, out.dtype, expected)
            assert np.isfinite(np.asarray(out, np.float32)).all()


# Checks that build their own layer: from KerasTensors, or under another dtype policy.
OWN_LAYER = ("symbolic_shapes", "dtype_policy")


def run_layer_test(example: LayerExample, checks=CHECKS):
    """The checks in CHECKS order; those on an eager float32 layer share one built layer (the
    training step, which moves its weights, comes after the others)."""
    built = None
    for check in sorted(checks, key=CHECKS.index):
        if check in example.skip:
            continue
        if check in OWN_LAYER:
            globals()[f"check_{check}"](example)
        else:
            built = built or build_and_call(example)
            globals()[f"check_{check}"](example, built)


def run_model_saving_test(model, inputs, path):
    """`model.save(path)` then `keras.saving.load_model(path)`: the same outputs."""
    import keras

    expected = _flat(model(inputs, training=False))
    model.save(path)
    restored = keras.saving.load_model(path)
    for a, b in zip(expected, _flat(restored(inputs, training=False)), strict=True):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), atol=1e-6, rtol=0)
    return restored
