"""The spend guard: stops an environment's Claude spending when a cost alarm or the budget fires.

`handler` is the Lambda entry point (alert-topic notifications and scheduled or operator commands);
operators use `bin/kit spend-guard status|close|reopen` (ops/guard_cli.py).
"""
