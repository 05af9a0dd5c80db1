"""Key-fact accuracy over a test set: per item from training/key_facts.py (the scorer itself, which RLHF rewards
use too and training may not import from eval), aggregated here with rouge's seeded bootstrap 95% interval.

Argument order is always (reference, answer), as in rouge.score(targets, predictions).
"""

from __future__ import annotations

from collections.abc import Sequence

from eval import rouge
from training.key_facts import KINDS, Fact, FactScore, extract_facts, score, score_all

__all__ = ["KINDS", "Fact", "FactScore", "aggregate", "extract_facts", "score", "score_all"]


def aggregate(scores: Sequence[FactScore], seed: int = 0, resamples: int = 1000) -> dict:
    """{"mean", "low", "high", "scored", "skipped"}: mean accuracy over the references with key facts and rouge's
    seeded bootstrap 95% interval; mean/low/high are None when nothing was scored."""
    values = [s.accuracy for s in scores if s.accuracy is not None]
    skipped = len(scores) - len(values)
    if not values:
        return {"mean": None, "low": None, "high": None, "scored": 0, "skipped": skipped}
    mean, low, high = rouge.bootstrap(values, seed=seed, resamples=resamples)
    return {"mean": float(mean[0]), "low": float(low[0]), "high": float(high[0]), "scored": len(values),
            "skipped": skipped}
