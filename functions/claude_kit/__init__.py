"""Shared Claude runtime for every function: client factory, retry policy, context window, prompt caching,
pricing and per-call telemetry.

Importing the package imports nothing heavy: `anthropic` (seconds of import time) loads on first use.
"""
