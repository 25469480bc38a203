"""Top-1 agreement of mixed_bfloat16 (and mixed_float16) with float32 on the parity fixtures.

For each fixture (`shared/fixtures`: `small`, `small_gain`, the reference's weights converted),
both layouts and each mixed policy: the largest logit change, the distinct logits of a query's
valid cells, and whether the top-1 moment after NMS (the served answer) is the float32 one,
on the fixture's 3 queries and on `--random` more random queries of the same shapes (the
fixture's 3 queries are few, and with `small`'s weights all queries score alike).

    python benchmarks/precision_agreement.py [--random 64] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--random", type=int, default=64, help="random queries per fixture (default 64)")
    parser.add_argument("--policies", nargs="+", default=["mixed_bfloat16", "mixed_float16"])
    parser.add_argument("--json", help="write the rows here")
    args = parser.parse_args(argv)

    import numpy as np

    from mgpn_keras.convert import config_from_reference, load_reference_weights
    from mgpn_keras.evaluation.metrics import top_moments
    from mgpn_keras.model import build_mgpn, valid_cell_mask

    fixtures = os.path.join(os.path.dirname(ROOT), "shared", "fixtures")
    rows = []
    for name in ("small", "small_gain"):
        with open(os.path.join(fixtures, f"{name}_config.json"), encoding="utf-8") as f:
            cfg = config_from_reference(json.load(f))
        io = np.load(os.path.join(fixtures, f"{name}_io.npz"))
        rng = np.random.default_rng(0)
        n = args.random
        clips = rng.normal(size=(n,) + io["visual_input"].shape[1:]).astype(np.float32)
        clips /= np.linalg.norm(clips, axis=-1, keepdims=True)
        feeds = {
            "fixture": {"word_vectors": io["textual_input"].astype(np.float32),
                        "query_mask": io["textual_mask"][..., 0].astype(np.float32),
                        "clip_features": io["visual_input"].astype(np.float32)},
            "random": {"word_vectors": rng.normal(0, 0.3, (n,) + io["textual_input"].shape[1:]).astype(np.float32),
                       "query_mask": np.ones((n, io["textual_input"].shape[1]), np.float32),
                       "clip_features": clips},
        }
        valid = valid_cell_mask(cfg) > 0
        weights = os.path.join(fixtures, f"{name}_weights.npz")
        for layout in ("dense", "valid_cells"):
            full = build_mgpn(cfg, layout=layout)
            load_reference_weights(full, weights)
            for policy in args.policies:
                half = build_mgpn(cfg, layout=layout, dtype=policy)
                load_reference_weights(half, weights)
                for kind, feed in feeds.items():
                    a = np.asarray(full.predict(feed, batch_size=32, verbose=0))
                    b = np.asarray(half.predict(feed, batch_size=32, verbose=0))
                    duration = np.full(len(a), 30.0)
                    top_a = top_moments(a, duration, cfg.model.num_clips, cfg.eval.nms_threshold, 1,
                                        from_logits=True, num_scale_layers=cfg.model.num_scale_layers)
                    top_b = top_moments(b, duration, cfg.model.num_clips, cfg.eval.nms_threshold, 1,
                                        from_logits=True, num_scale_layers=cfg.model.num_scale_layers)
                    agree = [bool(np.array_equal(x[0, :2], y[0, :2])) for x, y in zip(top_a, top_b)]
                    row = {"fixture": name, "layout": layout, "policy": policy, "queries": kind, "count": len(a),
                           "top1_agreement": round(float(np.mean(agree)), 4),
                           "max_abs_logit_change": float(np.abs(a - b)[:, valid].max()),
                           "logit_spread": float(np.ptp(a[:, valid], axis=1).mean()),
                           "distinct_valid_logits_float32": float(np.mean([len(np.unique(r[valid])) for r in a])),
                           "distinct_valid_logits_mixed": float(np.mean([len(np.unique(r[valid])) for r in b]))}
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    if args.json:
        from mgpn_keras.atomic import write_json

        write_json(args.json, rows, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
