"""Data: the benchmarks' annotation and feature layouts, GloVe, TFRecord shards, tf.data.

- `read_annotations(name, data_dir, split)`: Charades-STA, TACoS, ActivityNet Captions records.
- `mgpn_keras.datasets.prepare.prepare(...)` / `mgpn prepare`: shards and a manifest.
- `load_manifest(path)`, `check_manifest(manifest, cfg)`: the prepared data set.
- `make_dataset(manifest, split, batch_size, training, ...)`: the tf.data pipeline.
- `mgpn_keras.datasets.synthetic.write(out_dir, seed=...)`: the synthetic benchmark.

TensorFlow is imported only by the modules that need it (`make_dataset` on first use).
"""

from __future__ import annotations

from mgpn_keras.datasets.annotations import Record, read_annotations
from mgpn_keras.datasets.errors import DataError
from mgpn_keras.datasets.manifest import Manifest, check_manifest, load_manifest


def make_dataset(manifest, split, batch_size, training, *, with_meta=False, shuffle_seed=None,
                 drop_remainder=False, num_clips=None, absent=None, shard=None):
    """See `mgpn_keras.datasets.pipeline.make_dataset`."""
    from mgpn_keras.datasets.pipeline import make_dataset as _make_dataset

    return _make_dataset(manifest, split, batch_size, training, with_meta=with_meta,
                         shuffle_seed=shuffle_seed, drop_remainder=drop_remainder,
                         num_clips=num_clips, absent=absent, shard=shard)


__all__ = ["DataError", "Manifest", "Record", "check_manifest", "load_manifest", "make_dataset",
           "read_annotations"]
