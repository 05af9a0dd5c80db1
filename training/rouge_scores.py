"""ROUGE per item with Google's `rouge-score` (stemming on): the scorer that evaluation (eval/rouge.py adds the
bootstrap intervals) and RLHF rewards (training/rewards.py) share, so a reward and a Results number are the
same ROUGE. It lives in training because training may not import eval.

Argument order is always (targets, predictions), as in rouge_scorer.score(target, prediction).
"""

from __future__ import annotations

import re

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
