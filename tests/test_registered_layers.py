"""Every class registered under `mgpn_keras>` in the Keras serialization registry, found by
walking the registry (so a new layer is covered without editing a list): the layer checks
of `layer_test_case.run_layer_test` on the examples of `layer_examples.py`."""

import pytest

from layer_examples import examples
from layer_test_case import CHECKS, assert_config_round_trip, run_layer_test


def _registered():
    """{"mgpn_keras>Name": class} for every registered class of the package."""
    import keras

    from mgpn_keras.registry import PACKAGE, register_all

    register_all()
    prefix = f"{PACKAGE}>"
    return {name: obj for name, obj in sorted(keras.saving.get_custom_objects().items())
            if name.startswith(prefix) and isinstance(obj, type)}


def _layer_names():
    import keras

    return [name for name, cls in _registered().items() if issubclass(cls, keras.layers.Layer)]


def _examples_of(name):
    table = examples()
    assert name in table, (f"{name} has no example inputs: add an entry to tests/layer_examples.py "
                           "so that the layer checks cover it")
    for example in table[name]:
        assert set(example.skip) <= set(CHECKS) and all(example.skip.values())
        assert keras_name(example.make()) == name
    return table[name]


@pytest.mark.parametrize("name", _layer_names())
def test_registered_layer(name):
    for example in _examples_of(name):
        run_layer_test(example, [c for c in CHECKS if c != "dtype_policy"])


@pytest.mark.parametrize("name", _layer_names())
def test_registered_layer_under_a_mixed_dtype_policy(name):
    for example in _examples_of(name):
        run_layer_test(example, ["dtype_policy"])


def keras_name(obj):
    import keras

    return keras.saving.get_registered_name(type(obj))


def test_examples_name_only_registered_layers():
    stale = sorted(set(examples()) - set(_layer_names()))
    assert not stale, f"tests/layer_examples.py has entries for classes no longer registered: {stale}"


def test_every_registered_class_round_trips_its_config():
    from mgpn_keras.losses import ScaledIoUBCE

    names = set(_registered())
    assert "mgpn_keras>ScaledIoUBCE" in names
    # Every layer class defined in mgpn_keras/layers/ is in the registry the checks walk.
    import importlib
    import inspect
    import pkgutil

    import keras

    import mgpn_keras.layers

    defined = set()
    for info in pkgutil.iter_modules(mgpn_keras.layers.__path__):
        module = importlib.import_module(f"mgpn_keras.layers.{info.name}")
        defined |= {keras_name_of(cls) for _, cls in inspect.getmembers(module, inspect.isclass)
                    if issubclass(cls, keras.layers.Layer) and cls.__module__ == module.__name__}
    assert defined and defined <= names, f"layers not registered: {sorted(defined - names)}"
    assert_config_round_trip(ScaledIoUBCE(8, [3, 2], 0.3, 0.7))


def keras_name_of(cls):
    return f"mgpn_keras>{cls.__name__}"
