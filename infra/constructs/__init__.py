"""One construct per capability; `infra/stack.py` wires them together."""
