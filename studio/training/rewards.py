"""RLHF rewards: an answer scored against the reference answer of its question. Pure functions, no model.

Argument order is always (reference, answer), as in the key-fact scorer. Every part is on a 0-1 scale:
- rouge_l: ROUGE-L F1 (studio/metrics/rouge.py, the same number Results shows / 100).
- piecewise: the report's ROUGE reward (txtRL) on its 0-100 scale, then / 100: the score itself when it is at
  least 10, 5 between 5 and 10, 0 below 5.
- facts: the share of the reference's key facts the answer states (studio/metrics/facts.py). A reference without
  key facts scores 0 for every answer: all answers to one question share a reference, so a constant changes no
  group-relative advantage.
- length: how far the answer falls short of `length_ratio` times the reference's words (0 when it is long enough,
  near 1 for "yes" against a long reference). It is subtracted: the report's policy learned to answer "yes"
  because short strings raised ROUGE on short references.
reward = rouge_l_weight * rouge_l + piecewise_weight * piecewise + facts_weight * facts - length_weight * length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from studio.metrics import facts
from studio.metrics.rouge import rouge_l

PARTS = ("rouge_l", "piecewise", "facts", "length")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class RewardWeights:
    rouge_l: float = 1.0
    piecewise: float = 0.0
    facts: float = 1.0
    length: float = 1.0
    length_ratio: float = 0.5
    """An answer shorter than this share of the reference's words is penalised in proportion."""


def piecewise_rouge(rouge_0_100: float) -> float:
    """The report's reward on its own 0-100 scale: ROUGE when >= 10, 5 when in [5, 10), 0 below 5."""
    if rouge_0_100 >= 10:
        return rouge_0_100
    return 5.0 if rouge_0_100 >= 5 else 0.0


def fact_accuracy(reference: str, answer: str) -> float | None:
    """Share of the reference's key facts the answer states; None when the reference has none."""
    return facts.score(reference, answer).accuracy


def length_shortfall(reference: str, answer: str, ratio: float = RewardWeights.length_ratio) -> float:
    """1 - answer words / (ratio x reference words), floored at 0: how far the answer is from long enough."""
    wanted = ratio * len(_WORD.findall(reference))
    if wanted <= 0:
        return 0.0
    return max(0.0, 1.0 - len(_WORD.findall(answer)) / wanted)


def score(reference: str, answer: str, weights: RewardWeights = RewardWeights()) -> dict[str, float]:
    """Each part (0-1) and the weighted "reward" of one answer."""
    rouge = rouge_l(reference, answer)
    facts = fact_accuracy(reference, answer)
    parts = {"rouge_l": rouge, "piecewise": piecewise_rouge(100 * rouge) / 100, "facts": facts or 0.0,
             "length": length_shortfall(reference, answer, weights.length_ratio)}
    reward = (weights.rouge_l * parts["rouge_l"] + weights.piecewise * parts["piecewise"]
              + weights.facts * parts["facts"] - weights.length * parts["length"])
    return {**parts, "reward": reward}


def score_all(references: list[str], answers: list[str], weights: RewardWeights = RewardWeights()) -> list[dict]:
    if len(references) != len(answers):
        raise ValueError(f"{len(references)} references but {len(answers)} answers")
    return [score(reference, answer, weights) for reference, answer in zip(references, answers)]


def states_the_facts(reference: str, answer: str) -> bool:
    """True when the answer already says what the reference says: every key fact, or (for a reference without
    key facts) the reference's own words in order (ROUGE-L F1 = 1). DPO skips such answers as rejected ones."""
    facts = fact_accuracy(reference, answer)
    return facts == 1.0 if facts is not None else rouge_l(reference, answer) >= 1.0

