"""One chat turn: memory builds the context, knowledge grounds the question, the engine streams the reply, and
memory records the exchange. No Gradio here."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field

from studio import answer_check, memory
from studio.answer_check import CheckedAnswer
from studio.core import runtime
from studio.engines.base import GenerationSettings, LoadedModel, ReplyStats, complete
from studio.knowledge import grounding, store, support
from studio.knowledge.collection import KnowledgeError, Passage
from studio.knowledge.grounding import Grounding, KnowledgeConfig
from studio.memory import MemoryConfig, MemoryState, Message

MAX_MESSAGE_CHARS = 20_000


class ChatError(Exception):
    """A message that cannot be answered as given; the text says why."""


# ------------------------------------------------------------------------------------------------ a chat turn


@dataclass
class TurnUpdate:
    reply: str
    prompt: str
    """The exact text the model received for this turn."""
    stats: ReplyStats | None = None
    state: MemoryState | None = None
    """The memory with this exchange in it: provisional (reply so far) while streaming, final at the end, so a
    stopped reply is kept as far as it got."""
    status: str = ""
    sources: list[Passage] = field(default_factory=list)
    """The passages the reply was grounded on, in the order the prompt numbers them (empty without knowledge or
    when none had support)."""
    grounding: Grounding | None = None
    """The knowledge step of this turn (search query, timings), when a collection was chosen."""
    answer: CheckedAnswer | None = None
    """A grounded reply's check against its sources and who wrote it (studio/answer_check.py): set on the final
    update, and on the one before a second try."""


def check_message(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ChatError("Type a message first: an empty message cannot be answered.")
    if len(text) > MAX_MESSAGE_CHARS:
        raise ChatError(f"That message has {len(text):,} characters; the limit is {MAX_MESSAGE_CHARS:,}. "
                        "Shorten it, or use document QA for long texts.")
    return text


def chat_turn(
    loaded: LoadedModel,
    config: MemoryConfig,
    state: MemoryState,
    user_text: str,
    settings: GenerationSettings,
    knowledge_config: KnowledgeConfig | None = None,
) -> Iterator[TurnUpdate]:
    """Stream one exchange: memory builds the context, the model answers, memory records the exchange.

    With a knowledge collection the question (made standalone from the earlier user turns) is searched first and
    the passages go into the system prompt. When none has support and `refuse_without_source` is on, the reply is
    a fixed "I have no source for that in <collection>." and the model is not called: under
    store.NO_SOURCE_INSTRUCTIONS Qwen2.5-Coder-0.5B and SmolLM2 declined 0 of 4 off-topic questions
    (bench/followup_rewrite.py) and answered from their own knowledge. A grounded reply is checked against its
    passages and, by the answer style, asked again or replaced by a quote (studio/answer_check.py); the final
    update carries the check. Memory records the question and the reply shown only, never the passages."""
    user_text = check_message(user_text)
    count_tokens = loaded.token_counter(settings.system_prompt)
    context = memory.context(config, state, count_tokens)
    found = _ground(loaded, grounding.earlier_user_turns(context), user_text, settings, knowledge_config)
    sources = found.passages if found else []

    def provisional(reply: str) -> MemoryState:
        exchange = [{"role": "user", "content": user_text}, {"role": "assistant", "content": reply}]
        return MemoryState(state.messages + exchange, state.summary, state.summarized)

    def record(reply: str) -> MemoryState:
        return memory.record_turn(config, state, user_text, reply, count_tokens,
                                  complete=lambda messages: complete(loaded, messages, settings))

    def finish(reply: str, prompt: str, stats: ReplyStats | None, **shown) -> Iterator[TurnUpdate]:
        if config.kind in ("summary", "summary_buffer"):
            yield TurnUpdate(reply, prompt, stats, provisional(reply), status="Updating the summary...", **shown)
        yield TurnUpdate(reply, prompt, stats, record(reply), **shown)

    if found and not found.supported and knowledge_config.refuse_without_source:
        yield from finish(grounding.no_source_reply(knowledge_config.collection), "", None, grounding=found)
        return
    messages = context + [{"role": "user", "content": user_text}]
    if not (found and found.supported):
        stream = loaded.open_stream(messages, settings.system_prompt, settings)
        for text in stream:
            yield TurnUpdate(text, stream.prompt_text, state=provisional(text), grounding=found)
        yield from finish(stream.text, stream.prompt_text, stream.stats, grounding=found)
        return

    # The check's sentence embeddings run on the model thread, as retrieval does (_ground says why).
    style, question, answer, stream = knowledge_config.answer_style, found.query, None, None
    for attempt in range({"quote": 0, "generate": 1, "auto": 2}[style]):
        if attempt == 0:
            status = "Answering from the sources; the answer is checked against them when it is done."
            system_prompt, bare_prompt = found.system_prompt, store.grounded_prompt(sources)
        else:
            status = f"The answer was not taken from the sources ({answer.check.verdict()}): asking again with the " \
                     "sentences that answer the question first..."
            yield TurnUpdate(answer.text, stream.prompt_text, stream.stats, provisional(answer.text), status=status,
                             sources=sources, grounding=found, answer=answer)
            key = runtime.on_model_thread(support.best_sentences, question, sources)
            system_prompt = support.retry_prompt(question, sources, settings.system_prompt, key)
            bare_prompt = support.retry_prompt(question, sources, "", key)
        stream = loaded.open_stream(_with_sources(loaded, messages, bare_prompt), system_prompt, settings)
        for text in stream:
            yield TurnUpdate(text, stream.prompt_text, state=provisional(text), status=status, sources=sources,
                             grounding=found)
        text = answer_check.tidy(stream.text)
        check = runtime.on_model_thread(support.check, text, question, sources)
        answer = answer_check.CheckedAnswer(text, check, "retry" if attempt else "model",
                                            answer.text if answer else "")
        if not answer_check.needs_another_try(answer, style):
            break
    if answer is None or answer_check.needs_quote(answer, style):
        replaced = (answer.replaced or answer.text) if answer else ""
        quote = runtime.on_model_thread(answer_check.quoted, question, sources, fallback=answer is not None)
        answer = dataclasses.replace(quote, replaced=replaced)
    yield from finish(answer.text, stream.prompt_text if stream else "", stream.stats if stream else None,
                      sources=sources, grounding=found, answer=answer)


def _with_sources(loaded: LoadedModel, messages: list[Message], sources_prompt: str) -> list[Message]:
    """DialoGPT-style prompts drop the system prompt but keep system messages (memory summaries) as turns: the
    sources go in as one."""
    if loaded.entry.prompt_style != "turns":
        return messages
    return [{"role": "system", "content": sources_prompt}] + messages


def _ground(loaded: LoadedModel, earlier: list[str], question: str, settings: GenerationSettings,
            knowledge_config: KnowledgeConfig | None) -> Grounding | None:
    """The knowledge step for `question` after the `earlier` user turns that memory keeps (no memory: the
    question alone is searched). It runs on the model thread: the query embedding is a PyTorch forward pass, and every thread
    that runs one keeps its own OpenMP team spinning (see runtime.submit_to_model_thread). It has to finish before
    the prompt exists anyway, so running it there costs the turn nothing. Measured over the 12 follow-ups of
    bench/followup_rewrite.py (two searches each: the query and the question as typed), 2 busy CPU cores: p50 52 ms /
    p95 61 ms on the model thread, 52 / 74 ms on the calling thread."""
    if knowledge_config is None or not knowledge_config.collection:
        return None

    def rewrite(messages: list[Message]) -> str:
        return complete(loaded, messages, settings, grounding.REWRITE_SYSTEM_PROMPT, grounding.REWRITE_TOKENS)

    try:
        return runtime.submit_to_model_thread(grounding.ground, knowledge_config, question, earlier,
                                              settings.system_prompt, rewrite).result()
    except (KnowledgeError, grounding.KnowledgeSettingsError) as e:
        raise ChatError(str(e)) from e
