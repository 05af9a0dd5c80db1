"""ROUGE with Google's `rouge-score` (stemming on), per item and aggregated with a seeded bootstrap 95% interval:
the scorer evaluation and RLHF rewards (studio/training/rewards.py) share, so a reward and a Results number are
the same ROUGE. The headline number everywhere in the app is ROUGE-L F1 x 100.

Argument order is always (targets, predictions), as in rouge_scorer.score(target, prediction).
"""

from __future__ import annotations

import re

import numpy as np
from rouge_score import rouge_scorer

METRICS = ("rouge1", "rouge2", "rougeL", "rougeLsum")
HEADLINE = "rougeL"
HEADLINE_LABEL = "ROUGE-L F1 x 100"

_scorer = rouge_scorer.RougeScorer(list(METRICS), use_stemmer=True)
_rouge_l = rouge_scorer.RougeScorer([HEADLINE], use_stemmer=True)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _sentences(text: str) -> str:
    """ROUGE-Lsum reads one sentence per line; split on sentence ends (nltk's punkt data is not available offline)."""
    return "\n".join(s for s in _SENTENCE_END.split(text.strip()) if s)


def score(targets: list[str], predictions: list[str]) -> list[dict[str, float]]:
    """F1 of each metric for each (target, prediction) pair."""
    if len(targets) != len(predictions):
        raise ValueError(f"{len(targets)} targets but {len(predictions)} predictions")
    results = []
    for target, prediction in zip(targets, predictions):
        scores = _scorer.score(_sentences(target), _sentences(prediction))
        results.append({metric: scores[metric].fmeasure for metric in METRICS})
    return results


def rouge_l(target: str, prediction: str) -> float:
    """ROUGE-L F1 (0-1) of one pair, as score() reports it, without the other metrics' cost."""
    return _rouge_l.score(target, prediction)[HEADLINE].fmeasure


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
