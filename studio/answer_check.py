"""A grounded answer checked against its sources, with what the model adds to the check: its own Yes/No reading of
the sentence that best matches a yes/no question, the second try, and the quoted fallback. A chat turn
(studio/chat.py) and evaluation (studio/evaluation/evaluate.py) answer through these, so both show the same answer.

Answer styles (KnowledgeConfig.answer_style; knowledge/support.py has the check itself):
  auto      the model answers; an unsupported answer is asked again with the key sentences first and a narrower
            instruction; still unsupported, the sentence(s) that best answer the question are quoted
  generate  the model's answer as it is, with its verdict (a reply that is only a citation is still replaced)
  quote     the best sentence(s) quoted, without calling the model
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.engines.base import LoadedModel, Tokenized
from studio.engines.prompts import encode_prompt, render_prompt
from studio.knowledge import support
from studio.knowledge.collection import Passage
from studio.knowledge.support import SupportCheck
from studio.models.refs import ModelError

HOW = {"model": "answered by the model", "retry": "answered by the model on a second try, from the key sentences",
       "quote": "quoted from the sources"}


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


JUDGE_QUESTION = ("Sentence: {sentence}\n\nQuestion: {question}\n\nDoes the sentence answer the question with yes "
                  "or with no? Reply with one word: Yes or No.")


def model_judge(loaded: LoadedModel) -> support.Judge | None:
    """The chat model's own reading of a sentence for a yes/no question: whichever of "Yes" and "No" it finds more
    likely as the reply (one forward pass each, log-likelihood through the engine). None for a model whose
    engine gives no log-likelihood (a model on a server): the negation cues judge instead."""
    if not hasattr(loaded, "tokenizer"):
        return None

    def judge(question: str, sentence: str) -> str | None:
        messages = [{"role": "user", "content": JUDGE_QUESTION.format(sentence=sentence, question=question)}]
        prompt = encode_prompt(loaded.tokenizer, loaded.entry.prompt_style, render_prompt(loaded, messages, ""))
        losses = {}
        for word in ("Yes", "No"):
            ids = loaded.tokenizer(word, add_special_tokens=False).input_ids
            try:
                total, _ = loaded.answer_log_likelihood([Tokenized(prompt + ids, [-100] * len(prompt) + ids)])
            except ModelError:
                return None
            losses[word.lower()] = total
        return min(losses, key=losses.get)

    return judge


def quoted(question: str, passages: list[Passage]) -> CheckedAnswer:
    """The quoted fallback: the best sentence(s) with their citation, checked like any answer (a quote states only
    what its sources say; its own yes or no is not judged)."""
    text, chosen = support.extractive_answer(question, passages)
    check = support.check(" ".join(s.text for s in chosen), question, passages)
    check.polarity = None
    return CheckedAnswer(text, check, "quote")


def needs_another_try(checked: CheckedAnswer, style: str) -> bool:
    """Whether `style` replaces this answer: auto replaces an unsupported one, every style an empty one."""
    return checked.check.empty or (style == "auto" and not checked.check.supported)
