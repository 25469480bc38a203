"""What the benchmarks share, one concept a module:

- `timing`: warm-ups and timed calls, wall and CPU seconds, the median; peak resident memory.
- `quiet`: how busy other processes keep the CPUs, waiting for a quiet machine, retrying a
  disturbed measurement.
- `worker`: the JSON-lines protocol of a benchmark's worker subprocess.
- `results`: the machine and versions a report records, the Markdown section a report writes.
- `reference`: the authors' PyTorch code's numbers and the harness that runs it.
- `flops`: the 2D stage's arithmetic per query.
- `model_jobs`: one model configuration built, fed random inputs and timed (in process, or
  exported and served); `served_timer` is the TensorFlow-only program that times the export.

The scripts in `benchmarks/` import it as `harness` (their folder is on `sys.path` when run as
`python benchmarks/<script>.py`). `timing`, `quiet` and `worker` import only the standard
library, so a process without mgpn_keras (the served timer) can use them.
"""
