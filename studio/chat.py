"""One chat turn: memory builds the context, knowledge grounds the question, the engine streams the reply, and
memory records the exchange. No Gradio here."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from studio import memory
from studio.core import runtime
from studio.engines.base import GenerationSettings, LoadedModel, ReplyStats, complete
from studio.knowledge import grounding, store
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
    (bench/followup_rewrite.py) and answered from their own knowledge. Memory records the question and the reply
    only, never the passages."""
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

    if found and not found.supported and knowledge_config.refuse_without_source:
        reply = grounding.no_source_reply(knowledge_config.collection)
        if config.kind in ("summary", "summary_buffer"):
            yield TurnUpdate(reply, "", state=provisional(reply), status="Updating the summary...", grounding=found)
        yield TurnUpdate(reply, "", state=record(reply), grounding=found)
        return
    system_prompt = found.system_prompt if found and found.supported else settings.system_prompt
    messages = context + [{"role": "user", "content": user_text}]
    if found and found.supported and loaded.entry.prompt_style == "turns":
        # DialoGPT-style prompts drop the system prompt but keep system messages (memory summaries) as turns
        messages = [{"role": "system", "content": store.grounded_prompt(found.passages)}] + messages
    stream = loaded.open_stream(messages, system_prompt, settings)
    for text in stream:
        yield TurnUpdate(text, stream.prompt_text, state=provisional(text), sources=sources, grounding=found)
    if config.kind in ("summary", "summary_buffer"):
        yield TurnUpdate(stream.text, stream.prompt_text, stream.stats, provisional(stream.text),
                         status="Updating the summary...", sources=sources, grounding=found)
    yield TurnUpdate(stream.text, stream.prompt_text, stream.stats, record(stream.text), sources=sources,
                     grounding=found)


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
