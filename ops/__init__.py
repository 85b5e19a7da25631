"""Operator tooling that runs on a developer's machine or in CI, never in Lambda (readiness, cost, evals)."""
