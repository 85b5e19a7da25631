"""`python -m ops.evals`: see ops/evals/cli.py."""

import sys

from ops.evals.cli import main

sys.exit(main())
