"""`python -m mgpn_keras.cli ...`: the `mgpn` command without its console script."""

import sys

from mgpn_keras.cli.dispatch import main

sys.exit(main())
