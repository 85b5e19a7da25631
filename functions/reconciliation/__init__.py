"""The Claude bill, hourly: the kit's month-to-date estimate, Anthropic's own report when an Admin API key is
configured (reconciliation), the monthly Claude brake, and the budget warnings.

`handler` is the scheduled entry point; the modules below it know nothing of Lambda.
"""
