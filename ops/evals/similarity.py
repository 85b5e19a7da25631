"""Similarity of an answer to a reference answer, offline and light: RapidFuzz's token-set ratio.

Lexical, not semantic: it rewards the reference's words in any order and ignores case and punctuation, so
"min" thresholds around 0.5-0.7 suit paraphrases that keep the key terms. Nothing is fetched at run time.
"""

from __future__ import annotations

from rapidfuzz import fuzz, utils


def similarity(answer: str, reference: str) -> float:
    """0 (no words in common) to 1 (the same words)."""
    return float(fuzz.token_set_ratio(answer, reference, processor=utils.default_process)) / 100
