"""The spend guard: stops an environment's Claude spending when a cost alarm or the budget fires.

`handler` is the Lambda entry point (alert-topic notifications and scheduled or operator commands);
`cli` is the operator's `python -m spend_guard.cli status|close|reopen --env NAME`.
"""
