"""Key-fact accuracy: the share of a reference answer's key facts that an answer states (the facts are read by
studio/metrics/key_facts.py, which says when an answer states one), per item and over a test set with rouge's
seeded bootstrap 95% interval.

Argument order is always (reference, answer), as in rouge.score(targets, predictions).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from studio.metrics import rouge
from studio.metrics.key_facts import Fact, checked_text, name_key, read_answer, read_facts


@dataclass(frozen=True)
class FactScore:
    found: int
    total: int
    accuracy: float | None  # found / total; None when the reference has no key facts
    missed: tuple[Fact, ...] = ()


def _score(facts: Sequence[Fact], answer: str) -> FactScore:
    if not facts:
        return FactScore(found=0, total=0, accuracy=None)
    stated, words, polarity = read_answer(answer)
    missed = tuple(fact for fact in facts if not (
        f" {fact.value} " in words if fact.kind == "entity"
        else fact.value == polarity if fact.kind == "polarity"
        else (fact.kind, fact.value) in stated))
    found = len(facts) - len(missed)
    return FactScore(found=found, total=len(facts), accuracy=found / len(facts), missed=missed)


def score(reference: str, answer: str, names: Iterable[str] = ()) -> FactScore:
    """How many of the reference's key facts the answer states. `names`: extra names to treat as entities."""
    facts = read_facts(checked_text(reference, "reference"), name_key(names), True)
    return _score(facts, checked_text(answer, "answer"))


def score_all(references: Sequence[str], answers: Sequence[str], names: Iterable[str] = ()) -> list[FactScore]:
    """score() for each (reference, answer) pair; a name used mid-sentence in any reference is known in all."""
    if len(references) != len(answers):
        raise ValueError(f"{len(references)} references but {len(answers)} answers")
    for i, (reference, answer) in enumerate(zip(references, answers)):
        checked_text(reference, f"reference {i}"), checked_text(answer, f"answer {i}")
    given = name_key(names)
    learned = {fact.value for reference in references for fact in read_facts(reference, given, True)
               if fact.kind == "entity"}
    known = tuple(sorted(set(given) | learned))
    return [_score(read_facts(reference, known, True), answer) for reference, answer in zip(references, answers)]


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
