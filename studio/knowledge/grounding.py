"""A chat turn's knowledge step: make the follow-up standalone, retrieve passages, build the grounded system prompt.

No model and no Gradio here: studio.chat runs this before it renders the prompt and hands in `rewrite` (the chat
model asked to rewrite the follow-up) when that strategy is chosen.

Follow-up strategies, measured with bench/followup_rewrite.py (12 two-turn conversations about the sample policy
and FAQ, hit@3 of the follow-up's expected passage; see FOLLOW_UP_DEFAULT):
  none      the follow-up as typed ("how many days is it?")
  append    the last user turns, then the follow-up (knowledge.standalone_query): no model call, no latency
  rewrite   the chat model rewrites the follow-up as a standalone question (greedy, short)
The standalone query picks the passages, but support is also asked of the question as typed: appended to an
on-topic turn, "What is the capital of France?" reached cosine 0.44-0.54 with policy passages (4 of 4 off-topic
questions looked supported), while as typed it scores at most 0.10 and every follow-up of the bench at least 0.38.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from studio.knowledge import store
from studio.knowledge.collection import DEFAULT_MODE, MODES, Passage
from studio.knowledge.support import ANSWER_STYLES

FOLLOW_UPS = ("append", "rewrite", "none")
FOLLOW_UP_LABELS = {"append": "Add recent questions to the query", "rewrite": "Rewrite with the model",
                    "none": "The question as typed"}
FOLLOW_UP_DEFAULT = "append"
"""bench/followup_rewrite.py, 12 follow-ups, hit@3 (hybrid): as typed 0.50, append 0.83, rewrite by
Qwen2.5-Coder-0.5B 0.58 (median 2.6 s per rewrite on 2 CPU cores), by SmolLM2-135M 0.42. Both models mostly hand
the follow-up back unchanged or answer it instead of rewriting it; appending costs no model call."""
REWRITE_SYSTEM_PROMPT = (
    "Rewrite the user's last question so that it can be understood without the conversation: replace words like "
    "'it', 'that' or 'and for' with what they refer to. Reply with the rewritten question only.")
REWRITE_TOKENS = 40


class KnowledgeSettingsError(ValueError):
    """A knowledge setting that cannot be used; the message says which and why."""


@dataclass
class KnowledgeConfig:
    collection: str | None = None
    """The collection to answer from; None (or "") answers without retrieval."""
    k: int = 3
    """How many passages go into the prompt."""
    mode: str = DEFAULT_MODE
    """hybrid, dense or bm25 (studio.knowledge.store)."""
    threshold: float = store.SUPPORT_THRESHOLD
    """Best cosine similarity a passage needs for the question to count as supported."""
    refuse_without_source: bool = True
    """When nothing is supported: reply that there is no source, without calling the model."""
    follow_up: str = FOLLOW_UP_DEFAULT
    """How a follow-up is made standalone before retrieval: one of FOLLOW_UPS."""
    follow_up_turns: int = 2
    """append: how many earlier user turns join the query."""
    answer_style: str = "auto"
    """How a grounded reply is given: auto, generate or quote (support.ANSWER_STYLES; studio/answer_check.py)."""

    def __post_init__(self) -> None:
        self.collection = (self.collection or "").strip() or None
        self.k, self.follow_up_turns, self.threshold = int(self.k), int(self.follow_up_turns), float(self.threshold)
        self.refuse_without_source = bool(self.refuse_without_source)
        if not 1 <= self.k <= 20:
            raise KnowledgeSettingsError(f"Knowledge k must be between 1 and 20 passages, not {self.k}.")
        if self.mode not in MODES:
            raise KnowledgeSettingsError(f"Unknown retrieval mode {self.mode!r}; choose one of "
                                         f"{', '.join(MODES)}.")
        if self.follow_up not in FOLLOW_UPS:
            raise KnowledgeSettingsError(f"Unknown follow-up strategy {self.follow_up!r}; choose one of "
                                         f"{', '.join(FOLLOW_UPS)}.")
        if self.follow_up_turns < 0:
            raise KnowledgeSettingsError("Follow-up turns cannot be negative.")
        if self.answer_style not in ANSWER_STYLES:
            raise KnowledgeSettingsError(f"Unknown answer style {self.answer_style!r}; choose one of "
                                         f"{', '.join(ANSWER_STYLES)}.")


@dataclass
class Grounding:
    """What the knowledge step decided for one question."""

    query: str
    """The text that was searched (the standalone question)."""
    passages: list[Passage] = field(default_factory=list)
    """The passages given to the model: empty when none had support."""
    best_score: float = 0.0
    """The cosine similarity that decided support: the best retrieved passage's, or for a follow-up searched with
    earlier turns, the best one of the question as typed (see the module docstring)."""
    system_prompt: str = ""
    seconds: float = 0.0
    """Retrieval time (query embedding included)."""
    rewrite_seconds: float = 0.0

    @property
    def supported(self) -> bool:
        return bool(self.passages)

    def describe(self, collection: str) -> str:
        rewrite = f" · rewrite {self.rewrite_seconds:.1f} s" if self.rewrite_seconds else ""
        found = (f"{len(self.passages)} passages" if self.passages
                 else f"no passage above the threshold (best cosine {self.best_score:.2f})")
        return f"Knowledge {collection}: {found} · retrieval {self.seconds * 1000:.0f} ms{rewrite}"


def no_source_reply(collection: str) -> str:
    return f"I have no source for that in {collection}."


def earlier_user_turns(messages: list[dict]) -> list[str]:
    return [m["content"] for m in messages if m.get("role") == "user"]


def rewrite_messages(question: str, earlier: list[str], turns: int = 2) -> list[dict]:
    """The conversation the rewriting model sees: the earlier questions and the follow-up, in one user message."""
    recent = "\n".join(f"- {t.strip()}" for t in earlier[-max(turns, 1):] if t.strip())
    return [{"role": "user", "content": f"Earlier questions:\n{recent}\n\nLast question: {question}\n\n"
                                        "The last question rewritten to stand on its own:"}]


def clean_rewrite(text: str, question: str) -> str:
    """The model's first line, without quotes or a label such as 'Rewritten question:' (small models echo the
    request's last line); the question itself when nothing is left."""
    line = next((line.strip() for line in text.strip().splitlines() if line.strip()), "")
    head, colon, tail = line.partition(":")
    if colon and "question" in head.lower():
        line = tail
    return line.strip("\"'` ") or question


def standalone(config: KnowledgeConfig, question: str, earlier: list[str],
               rewrite: Callable[[list[dict]], str] | None = None) -> tuple[str, float]:
    """The query to search for `question` after the earlier user turns, and the seconds a rewrite took."""
    if not earlier or config.follow_up == "none":
        return question, 0.0
    if config.follow_up == "append":
        return store.standalone_query(question, earlier, config.follow_up_turns), 0.0
    if rewrite is None:
        raise KnowledgeSettingsError("The 'rewrite' follow-up strategy needs the chat model.")
    start = time.perf_counter()
    text = rewrite(rewrite_messages(question, earlier, config.follow_up_turns))
    return clean_rewrite(text, question), time.perf_counter() - start


def ground(config: KnowledgeConfig, question: str, earlier: list[str], system_prompt: str,
           rewrite: Callable[[list[dict]], str] | None = None) -> Grounding:
    """Retrieve for `question` (made standalone from `earlier` user turns) and build the system prompt.

    Raises knowledge.KnowledgeError for an unknown collection."""
    query, rewrite_seconds = standalone(config, question, earlier, rewrite)
    start = time.perf_counter()
    found = store.retrieve(config.collection, query, config.k, config.mode)
    best = max((p.dense_score for p in found), default=0.0)
    if best >= config.threshold and query != question:
        # the earlier turns alone must not make an off-topic question supported: the question as typed decides
        typed = store.retrieve(config.collection, question, 1, "dense", spread=False)
        best = max((p.dense_score for p in typed), default=0.0)
    seconds = time.perf_counter() - start
    used = found if found and best >= config.threshold else []
    return Grounding(query, used, best, store.grounded_prompt(used, system_prompt), seconds, rewrite_seconds)
