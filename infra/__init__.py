"""CDK constructs and stacks for claude-serverless-kit."""

import sys
from pathlib import Path

# The contract names (claude_kit.contract) live with the functions, whose bundle root is functions/ (pytest,
# mypy and bin/kit put it on the path too): make `python app.py`, which `cdk synth` runs, see the same layout.
_BUNDLE_ROOT = str(Path(__file__).resolve().parent.parent / "functions")
if _BUNDLE_ROOT not in sys.path:
    sys.path.insert(0, _BUNDLE_ROOT)
