"""Evals for Claude behaviour: golden sets, checks, LLM-as-judge, baselines and the regression gate.

golden.py (the file format) → runner.py / batch.py (answers through targets.py, verdicts from checks.py and
judge.py) → results.py → baseline.py (the gate) → report.py; cli.py is `bin/kit eval` and `make eval`.
"""
