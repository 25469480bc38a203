"""Registers mgpn_keras's Keras classes as soon as Keras is imported, without importing it.

`import mgpn_keras` must make `keras.saving.load_model("m.keras")` work, yet
`import mgpn_keras.config` must not pay for TensorFlow. So `install()` puts a finder on
`sys.meta_path` that wraps the imports of keras, tensorflow and mgpn_keras's own modules;
when the outermost of them has finished and Keras is loaded, it calls
`mgpn_keras.registry.register_all()` and removes itself. Waiting for the outermost import
matters: the first `import keras` often comes from inside an mgpn_keras module, and
registering there would import layer modules while that one is half-initialised.
"""

from __future__ import annotations

import importlib.abc
import sys

_WATCHED = ("keras", "tensorflow")


def _keras_loaded() -> bool:
    keras = sys.modules.get("keras")
    return keras is not None and hasattr(keras, "saving")


class _Loader(importlib.abc.Loader):
    def __init__(self, hook: "_RegisterWhenKerasLoads", inner):
        self.hook, self.inner = hook, inner

    def __getattr__(self, name):
        # Everything else (get_code for `python -m`, get_resource_reader, is_package, ...)
        # is the wrapped loader's.
        return getattr(self.inner, name)

    def create_module(self, spec):
        return self.inner.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = module.__spec__.loader = self.inner
        self.hook.depth += 1
        try:
            self.inner.exec_module(module)
        finally:
            self.hook.depth -= 1
        self.hook.maybe_register()


class _RegisterWhenKerasLoads(importlib.abc.MetaPathFinder):
    def __init__(self):
        self.depth = 0
        self.done = False

    def find_spec(self, fullname, path=None, target=None):
        if self.done or not (fullname in _WATCHED or fullname.startswith("mgpn_keras.")):
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _Loader(self, spec.loader)
                return spec
        return None

    def maybe_register(self):
        if self.done or self.depth or not _keras_loaded():
            return
        self.done = True
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        from mgpn_keras.registry import register_all

        register_all()


def install() -> None:
    hook = _RegisterWhenKerasLoads()
    if _keras_loaded():
        hook.maybe_register()
    elif not any(isinstance(f, _RegisterWhenKerasLoads) for f in sys.meta_path):
        sys.meta_path.insert(0, hook)
