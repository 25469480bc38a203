"""Every Keras-serializable class of mgpn_keras, registered under the package `mgpn_keras`.

`keras.saving.load_model` finds a custom class only once the module that defines it was
imported; `register_all()` imports them all: every module of `mgpn_keras.layers` (found on
disk, so a new layer file needs no list) and the other modules named in `MODULES`.
`import mgpn_keras` calls it as soon as Keras is imported (see `mgpn_keras/__init__.py`).
"""

from __future__ import annotations

import importlib
import pkgutil

PACKAGE = "mgpn_keras"
# Registered classes outside mgpn_keras.layers.
MODULES = ("mgpn_keras.losses",)


def register_all() -> None:
    """Import every module that defines a registered class (idempotent)."""
    from mgpn_keras import layers

    for info in sorted(pkgutil.iter_modules(layers.__path__), key=lambda i: i.name):
        importlib.import_module(f"{layers.__name__}.{info.name}")
    for name in MODULES:
        importlib.import_module(name)
