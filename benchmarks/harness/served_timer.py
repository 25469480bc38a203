"""Times an exported SavedModel's `serving_default` as a TensorFlow Serving user runs it: a
worker process (`harness.worker` protocol) that imports only TensorFlow and tensorflow_text,
never mgpn_keras.

A request: "export" (the version folder), "batch", "tokens" (words a query), "words" (the
vocabulary to draw them from), "clips" and "width" (the clip features' shape), "warmup",
"iterations". The reply: `timing.time_calls`'s numbers, "score_dtype", "peak_rss_gb".
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # benchmarks/

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_text  # noqa: E402,F401  (the tokeniser's ops)

from harness.timing import peak_rss_gb, time_calls  # noqa: E402
from harness.worker import serve  # noqa: E402


def time_served(job: dict) -> dict:
    loaded = [m for m in sys.modules if m.startswith("mgpn_keras")]
    if loaded:
        raise RuntimeError(f"the served timer must run without mgpn_keras; imported: {loaded[:3]}")
    signature = tf.saved_model.load(job["export"]).signatures["serving_default"]
    rng = np.random.default_rng(0)
    b = job["batch"]
    query = tf.constant([" ".join(rng.choice(job["words"], job["tokens"])) for _ in range(b)])
    video = tf.constant(rng.normal(size=(b, job["clips"], job["width"])).astype(np.float32))
    duration = tf.constant(rng.uniform(20, 60, b).astype(np.float32))
    out = {}

    def call():
        out.update(signature(query=query, video_features=video, duration=duration))
        out["score"].numpy()

    timed = time_calls(call, job["warmup"], job["iterations"])
    return dict(timed, score_dtype=out["score"].dtype.name, peak_rss_gb=peak_rss_gb())


if __name__ == "__main__":
    sys.exit(serve(time_served))
