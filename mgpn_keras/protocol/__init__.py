"""The reference's protocol operations, each written once in TensorFlow (REFERENCE.md 5.7, 5.8).

They run eagerly, in `tf.data` maps, inside the model and in exported SavedModels (core
TensorFlow ops only), and every path calls these:

- `l2_normalize`: per-clip L2 normalisation of video features (prepare's pipeline, serving);
  `l2_norm` (the norms prepare stores) and `divide_by_norm` (what the pipeline does with them).
- `clip_averaging`: averaging a video's clips to a fixed count (the pipeline, serving).
- `interval_iou`: IoU of [start, end] intervals (the IoU map, evaluation, `mgpn predict`).
- `iou_map`: the training target, IoU of every 2D-map cell with the ground truth.
- `proposals`: the ranked candidate moments of a joint-probability map.
- `nms`: greedy non-maximum suppression of ranked moments, and the top moments of a map.
- `word_ids`: words -> vocabulary ids (prepare, the pipeline's vocabulary, serving).

The NumPy versions these replaced live on as test oracles in `tests/oracles.py`.
"""
