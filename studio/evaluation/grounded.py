"""Grounded evaluation: each question answered from its passages as a chat turn answers it, then the measures of
an answer against its sources, each with a seeded bootstrap 95% interval.

As in the chat (studio/chat.py, studio/answer_check.py): a question whose passages have no support gets the fixed
"I have no source for that in <collection>." without the model; the others are answered under the grounded system
prompt, checked against their passages and, by the answer style, asked again or replaced by a quote.

Measures (per answer, then over the test set):
  faithfulness        the share of the answer's key facts found in its passages (answers without key facts are
                      not counted); `unsupported` is the share of answers the check rejects (a fact not found, a
                      yes/no that contradicts a Q/A row, a reply that is only a citation or unrelated; a refusal
                      is counted under refused instead)
  citation precision  of the sources an answer cites (its [n] markers; a quote cites its own source; an answer
                      without markers, the sources shown as used), the share whose passage holds a sentence the
                      answer used (string-matched, checked to stand in that passage)
  refused             the share of answers that decline (studio/metrics/refusal.py): on a set of unanswerable
                      questions the refusal recall, on answerable sets the questions wrongly refused
"""

from __future__ import annotations

import re
from collections.abc import Callable

from studio import answer_check
from studio.answer_check import CheckedAnswer
from studio.engines.base import LoadedModel
from studio.knowledge import store, support
from studio.knowledge.collection import Passage
from studio.knowledge.grounding import no_source_reply
from studio.metrics import rouge
from studio.metrics.key_facts import normal_words
from studio.metrics.refusal import is_refusal

Generate = Callable[[list[str], list[str]], tuple[list[str], dict]]
"""(questions, their system prompts) -> (answers, timing): the model answering a batch."""
MARKER = re.compile(r"\[(\d+)\]")


def grounded_answers(loaded: LoadedModel, questions: list[str], passages: list[list[Passage]], collection: str,
                     system_prompt: str, style: str, generate: Generate) -> tuple[list[str], list, dict]:
    """(answers shown, CheckedAnswer or None per question, timing). `passages[i]` are question i's passages when
    they have support, else empty (the fixed no-source reply)."""
    answers = [no_source_reply(collection)] * len(questions)
    checked: list[CheckedAnswer | None] = [None] * len(questions)
    asked = [i for i, found in enumerate(passages) if found]
    timing = {"seconds": 0.0, "generated_tokens": 0, "tokens_per_s": 0.0, "batch_size": 0}
    if asked and style != "quote":
        first, timing = generate([questions[i] for i in asked],
                                 [store.grounded_prompt(passages[i], system_prompt) for i in asked])
        for i, text in zip(asked, map(answer_check.tidy, first)):
            checked[i] = CheckedAnswer(text, support.check(text, questions[i], passages[i]))
        again = [i for i in asked if style == "auto" and answer_check.needs_another_try(checked[i], style)]
        if again:
            second, more = generate([questions[i] for i in again],
                                    [support.retry_prompt(questions[i], passages[i], system_prompt) for i in again])
            timing = _add(timing, more)
            for i, text in zip(again, map(answer_check.tidy, second)):
                checked[i] = CheckedAnswer(text, support.check(text, questions[i], passages[i]), "retry",
                                           checked[i].text)
    for i in asked:
        if checked[i] is None or answer_check.needs_quote(checked[i], style):
            replaced = (checked[i].replaced or checked[i].text) if checked[i] else ""
            quote = answer_check.quoted(questions[i], passages[i], fallback=checked[i] is not None)
            checked[i] = CheckedAnswer(quote.text, quote.check, "quote", replaced)
        answers[i] = checked[i].text
    return answers, checked, timing


def _add(a: dict, b: dict) -> dict:
    seconds, tokens = a["seconds"] + b["seconds"], a["generated_tokens"] + b["generated_tokens"]
    return {**b, "seconds": round(seconds, 2), "generated_tokens": tokens,
            "tokens_per_s": round(tokens / max(seconds, 1e-9), 1)}


def citation_precision(checked: CheckedAnswer, passages: list[Passage]) -> float | None:
    """See the module docstring; None when the answer cites no source and uses none."""
    cited = {int(n) - 1 for n in MARKER.findall(checked.text)}
    if checked.how == "quote":
        cited = set(checked.check.used) or cited
    cited = cited or set(checked.check.used)
    if not cited:
        return None
    good = sum(1 for n in cited if 0 <= n < len(passages) and any(
        normal_words(sentence) in normal_words(passages[n].text) for sentence in checked.check.used.get(n, [])))
    return good / len(cited)


def row_fields(answer: str, checked: CheckedAnswer | None, passages: list[Passage]) -> dict:
    """What a result row adds for a grounded answer."""
    fields = {"refused": is_refusal(answer)}
    if checked is None:
        return fields
    facts, missing = len(checked.check.facts), len(checked.check.missing)
    precision = citation_precision(checked, passages)
    return fields | {
        "answered_by": checked.how, "verdict": checked.check.verdict(), "model_answer": checked.replaced or None,
        "faithfulness": round((facts - missing) / facts, 4) if facts else None,
        "unsupported": not checked.check.supported and not checked.check.refused,
        "unsupported_facts": [f.span for f in checked.check.missing],
        "citation_precision": None if precision is None else round(precision, 4),
        "used": {str(n + 1): sentences for n, sentences in checked.check.used.items()},
    }


def summary(rows: list[dict], seed: int = 0) -> dict:
    """Each measure's mean over the rows that have it, with its bootstrap 95% interval and count."""
    found = {}
    for name in ("faithfulness", "unsupported", "citation_precision", "refused"):
        values = [float(r[name]) for r in rows if r.get(name) is not None]
        if values:
            mean, low, high = rouge.bootstrap(values, seed=seed)
            found[name] = {"mean": float(mean[0]), "low": float(low[0]), "high": float(high[0]), "n": len(values)}
        else:
            found[name] = {"mean": None, "low": None, "high": None, "n": 0}
    counts = {how: sum(r.get("answered_by") == how for r in rows) for how in answer_check.HOW}
    return found | {"answered_by": counts}
