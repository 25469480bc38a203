"""The main job: train and evaluate MGPN (see `python train.py --help`).

With no arguments it trains on the embedded synthetic benchmark.
"""

import sys

from mgpn_keras.cli.train import main

if __name__ == "__main__":
    sys.exit(main())
