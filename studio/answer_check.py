"""A grounded answer checked against its sources, the second try and the quoted fallback. A chat turn
(studio/chat.py) and evaluation (studio/evaluation/grounded.py) answer through these, so both show the same answer.

Answer styles (KnowledgeConfig.answer_style; knowledge/support.py has the check itself):
  auto      the model answers; an unsupported answer is asked again with the key sentences first and a narrower
            instruction; still unsupported, the sentence(s) that best answer the question are quoted (a refusal
            stands: silent rather than a guess)
  generate  the model's answer as it is, with its verdict (a reply that is only a citation is still replaced)
  quote     the best sentence(s) quoted, without calling the model
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from studio.knowledge import support
from studio.knowledge.collection import Passage
from studio.knowledge.support import SupportCheck

HOW = {"model": "answered by the model", "retry": "answered by the model on a second try, from the key sentences",
       "quote": "quoted from the sources"}
UNCHECKED = "No answer I could check against the sources. The closest they come: "
"""Before a quote that replaces an unsupported answer: the quote is evidence, not an answer. Whether its sentences
answer the question cannot be told offline: all-MiniLM's relevance scored the helpline sentence 0.50 for "Which
number do I call for a claim at night?" and a policy passage 0.59 for an unanswerable question about the chief
executive, so no threshold separates them."""


_COPIED_HEADER = re.compile(r"\s*\[(\d+)\]\s*\([^()\n]*\)\s*")
_COPIED_QUESTION = re.compile(r"Q:[^\n]{0,300}?\s+A:\s*")


def tidy(answer: str) -> str:
    """A reply that opens by copying its source's header and row ("[1] (insurer_faq.csv row 232) Q: How do I
    find...? A: Use the hospital search... [2] (insurer_faq.csv row 391) Q: ...", Qwen2.5-0.5B on a dev question)
    is shown as that answer alone, cited at its end; a reply that is nothing but the header is left for the check to
    reject."""
    header = _COPIED_HEADER.match(answer)
    if not header:
        return answer
    rest = answer[header.end():]
    copied = _COPIED_QUESTION.match(rest)
    rest = rest[copied.end():] if copied else rest
    following = _COPIED_HEADER.search(rest)  # the next source copied after it, header and all
    rest = rest[:following.start()] if following else rest
    return f"{rest.strip()} [{header.group(1)}]" if rest.strip() else answer


@dataclass
class CheckedAnswer:
    text: str
    check: SupportCheck
    how: str = "model"
    """One of HOW: who wrote the answer shown."""
    replaced: str = ""
    """The model's answer that was not shown (unsupported), when one was replaced."""

    def describe(self) -> str:
        return f"{HOW[self.how]} · {self.check.verdict()}"


def quoted(question: str, passages: list[Passage], fallback: bool = False) -> CheckedAnswer:
    """The best sentences with their citations, checked like any answer (a quote states only what its sources say;
    its own yes or no is not judged). As the `fallback` for an unsupported answer it says so first (UNCHECKED)."""
    text, chosen = support.extractive_answer(question, passages)
    text = UNCHECKED + text if fallback and text else text
    check = support.check(" ".join(s.text for s in chosen), question, passages)
    check.polarity, check.used = None, {}
    for sentence in chosen:  # what a quote used is what it quotes
        check.used.setdefault(sentence.passage, []).append(sentence.text)
    return CheckedAnswer(text, check, "quote")


def needs_another_try(checked: CheckedAnswer, style: str) -> bool:
    """Whether `style` asks the model again: auto for an answer the check does not support. A refusal stands: asked
    again, Qwen2.5-0.5B turned "No source for that." into "Yes, this document can be used as an offer of
    insurance" (test_policy.csv, the policy says No), and a yes or no read from a document is not checked."""
    return style == "auto" and not checked.check.supported and not checked.check.refused


def needs_quote(checked: CheckedAnswer, style: str) -> bool:
    """Whether `style` shows a quote instead: every style for an empty reply, auto for an unsupported one; a
    refusal stands (quoting sentences the model found no answer in would put words in its mouth)."""
    return checked.check.empty or (style == "auto" and not checked.check.supported and not checked.check.refused)
