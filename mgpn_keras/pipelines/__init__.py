"""Apache Beam drivers of the per-element work of extract, prepare, evaluate and batch predict.

Each stage keeps one implementation of its per-element work in its own package (videos'
features, consecutive videos sharing backbone calls: `extract.features.videos_features`; one
record's filter and one shard's encoding: `datasets.prepare.classify` / `build_shard`; one
(video, query) pair: the exported SavedModel); the local path calls it in a loop and the
pipelines here call it from a `DoFn`, so any Beam runner (DirectRunner with N processes,
Dataflow, Flink, Spark) produces the same files. Nothing here is imported by training: `python
train.py` never loads Beam.
"""
