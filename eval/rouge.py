"""ROUGE with Google's `rouge-score` (stemming on), per item (training/rouge_scores.py, shared with the RLHF rewards)
and aggregated here with a seeded bootstrap 95% interval.

Argument order is always (targets, predictions), as in rouge_scorer.score(target, prediction). The headline
number everywhere in the app is ROUGE-L F1 x 100.
"""

from __future__ import annotations

import numpy as np

from training.rouge_scores import HEADLINE, HEADLINE_LABEL, METRICS, score

__all__ = ["HEADLINE", "HEADLINE_LABEL", "METRICS", "aggregate", "bootstrap", "headline", "score"]


def bootstrap(values, seed: int = 0, resamples: int = 1000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Column means of `values` (items x measures) with percentile-bootstrap 95% intervals (resampling items, seeded)."""
    values = np.asarray(values, dtype=float).reshape(len(values), -1)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(values), size=(resamples, len(values)))
    low, high = np.percentile(values[picks].mean(axis=1), [2.5, 97.5], axis=0)
    return values.mean(axis=0), low, high


def aggregate(per_item: list[dict[str, float]], seed: int = 0, resamples: int = 1000) -> dict[str, dict[str, float]]:
    """Mean of each metric with a percentile-bootstrap 95% interval (resampling items, seeded)."""
    if not per_item:
        return {metric: {"mean": 0.0, "low": 0.0, "high": 0.0} for metric in METRICS}
    mean, low, high = bootstrap([[item[metric] for metric in METRICS] for item in per_item], seed, resamples)
    return {metric: {"mean": float(mean[i]), "low": float(low[i]), "high": float(high[i])}
            for i, metric in enumerate(METRICS)}


def headline(aggregated: dict[str, dict[str, float]]) -> float:
    """The app's headline ROUGE: ROUGE-L F1 x 100."""
    return 100 * aggregated[HEADLINE]["mean"]
