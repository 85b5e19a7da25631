"""The kit on one machine: a fake Claude server and a local stack (moto + the functions), no AWS, no key."""

import sys
from pathlib import Path

# The functions import one another from the Lambda bundle root, which is functions/ here (pytest and mypy are
# configured the same way): make `python -m local.…` see the same layout.
_BUNDLE_ROOT = str(Path(__file__).resolve().parent.parent / "functions")
if _BUNDLE_ROOT not in sys.path:
    sys.path.insert(0, _BUNDLE_ROOT)
