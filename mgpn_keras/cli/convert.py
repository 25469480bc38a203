"""`mgpn convert`: an authors' PyTorch checkpoint -> a Keras model file."""

from __future__ import annotations

import argparse
import os

from mgpn_keras.cli.arguments import HelpFormatter, add_logging_arguments

DESCRIPTION = """\
Convert a checkpoint of the authors' PyTorch MGPN (Huntersxsx/MGPN) into a .keras model
file, using the experiment YAML it was trained with; every intermediate tensor then equals
the reference's within 1e-5.

Inputs: the reference experiment YAML (--reference-config) and its state_dict (--weights:
.pkl/.pt/.pth, which need torch, or .npz). Outputs: the model (--out, .keras) and its
mgpn_keras config (--config-out, default beside --out as <name>.config.json).

Example:
  mgpn convert --reference-config experiments/tacos/mgpn256.yaml --weights tacos.pkl \\
      --out tacos.keras
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "convert", help="convert an authors' PyTorch checkpoint into a Keras model",
        description=DESCRIPTION, formatter_class=HelpFormatter)
    parser.add_argument("--reference-config", required=True, metavar="YAML",
                        help="the reference experiment YAML, e.g. experiments/tacos/mgpn256.yaml")
    parser.add_argument("--weights", required=True, metavar="CKPT",
                        help="the reference state_dict: .pkl/.pt/.pth (needs torch) or .npz")
    parser.add_argument("--out", required=True, metavar="MODEL.keras",
                        help="where to write the Keras model")
    parser.add_argument("--config-out", metavar="CONFIG.json",
                        help="also write the resolved mgpn_keras config (default: beside --out)")
    add_logging_arguments(parser, quiet_help="print nothing on success")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from mgpn_keras import config as config_lib
    from mgpn_keras.atomic import atomic_path
    from mgpn_keras.convert import config_from_reference, load_reference_weights

    cfg = config_from_reference(args.reference_config)  # fails fast, before TensorFlow loads
    if not os.path.isfile(args.weights):
        raise FileNotFoundError(f"reference weights {args.weights!r} do not exist")
    from mgpn_keras.model import build_mgpn

    model = build_mgpn(cfg)
    load_reference_weights(model, args.weights)
    out = args.out if args.out.endswith(".keras") else args.out + ".keras"
    with atomic_path(out) as tmp:
        model.save(tmp)
    config_out = args.config_out or os.path.splitext(out)[0] + ".config.json"
    config_lib.save_config(cfg, config_out)
    if not args.quiet:
        print(f"wrote {out} ({cfg.name}, hidden {cfg.model.hidden_size}) and {config_out}")
    return 0
