"""mgpn-keras: MGPN (SIGIR 2022) video moment retrieval in Keras 3 on TensorFlow."""

import os

# The package is written for the TensorFlow backend (tf.data, tf.distribute, SavedModel).
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# oneDNN's CPU kernels are the ones that run the choice comparison's grouped convolutions
# (Sec. 3.7); TensorFlow leaves oneDNN off on CPUs without AVX512-VNNI unless asked. Only takes
# effect when TensorFlow is imported after mgpn_keras; otherwise GroupConv2D falls back to one
# convolution per group.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

if os.environ["KERAS_BACKEND"] != "tensorflow":
    raise ImportError(
        f"mgpn_keras needs the TensorFlow backend, but KERAS_BACKEND={os.environ['KERAS_BACKEND']!r}; "
        "unset it or set KERAS_BACKEND=tensorflow before importing keras"
    )

from mgpn_keras.version import __version__  # noqa: E402,F401

# Every layer is registered with Keras once Keras is imported (so `keras.saving.load_model`
# works after `import mgpn_keras`), without importing Keras here: `import mgpn_keras.config`
# stays free of TensorFlow.
from mgpn_keras import _keras_hook  # noqa: E402

_keras_hook.install()


def __getattr__(name):
    # Lazy so that `import mgpn_keras.config` does not pay for importing TensorFlow.
    if name == "build_mgpn":
        from mgpn_keras.model import build_mgpn

        return build_mgpn
    if name in ("save_to_preset", "from_preset"):
        from mgpn_keras.runs import presets

        return getattr(presets, name)
    if name == "resolve_model":
        from mgpn_keras.runs.resolve import resolve_model

        return resolve_model
    if name in ("preset", "load_config", "save_config", "Config"):
        from mgpn_keras import config

        return getattr(config, name)
    raise AttributeError(f"module 'mgpn_keras' has no attribute {name!r}")
