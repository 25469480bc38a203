"""A contained fix for Keras 3's `fit()` under MultiWorkerMirroredStrategy.

Keras 3 (checked up to 3.15) reduces the per-replica step outputs of `fit()` with
`strategy.reduce("MEAN", v, axis=0)` when the strategy is CollectiveAllReduce; the step
outputs are scalar metrics, so every multi-worker `fit()` fails with "Invalid reduction
dimension 0 for input with 0 dimensions" (tensorflow/tensorflow#72388). The patch
reduces scalars across replicas with axis=None instead and leaves every other case to
Keras. It is applied only when training under that strategy.
"""

from __future__ import annotations

import tensorflow as tf

_PATCHED = False


def patch_multi_worker_reduction() -> None:
    global _PATCHED
    if _PATCHED:
        return
    from keras.src.backend.tensorflow import trainer as tf_trainer

    original = tf_trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction):
        if reduction == "auto" and isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
            def _reduce(v):
                local = (strategy.experimental_local_results(v)[0]
                         if isinstance(v, tf.distribute.DistributedValues) else v)
                if getattr(local, "shape", None) is not None and local.shape.rank == 0:
                    return strategy.reduce("MEAN", v, axis=None)
                return original(v, strategy, reduction)

            return tf.nest.map_structure(_reduce, values)
        return original(values, strategy, reduction)

    tf_trainer.reduce_per_replica = reduce_per_replica
    _PATCHED = True
