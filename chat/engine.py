"""Stream the model's reply to a conversation, stop it, and keep the memory up to date. No Gradio here.

Prompt rendering (styles, stop strings, token ids) lives in chat/prompts.py."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
from transformers import LogitsProcessorList, StoppingCriteria, StoppingCriteriaList
from transformers.generation.logits_process import RepetitionPenaltyLogitsProcessor
from transformers.generation.streamers import BaseStreamer

from chat import grounding, knowledge, memory, runtime
from chat.engine_choice import REMOTE_ENGINE
from chat.grounding import Grounding, KnowledgeConfig
from chat.memory import MemoryConfig, MemoryState, Message
from chat.models import LoadedModel, ModelError
from chat.prompts import (  # noqa: F401 - callers import these from here too
    DEFAULT_SYSTEM_PROMPT,
    DOLLY_INTRO,
    STOP_STRINGS,
    SUMMARY_SYSTEM_PROMPT,
    encode_prompt,
    history_token_counter,
    render,
    render_prompt,
)

MAX_MESSAGE_CHARS = 20_000


class ChatError(Exception):
    """A message that cannot be answered as given; the text says why."""


@dataclass
class GenerationSettings:
    max_new_tokens: int = 192
    """Upper bound on reply length, in tokens."""
    temperature: float = 0.0
    """0 means greedy decoding (reproducible); above 0 samples."""
    top_p: float = 0.9
    """Nucleus sampling mass, used only when temperature > 0."""
    repetition_penalty: float = 1.05
    """Above 1 discourages repeating the reply's own tokens (small models loop without it). Unlike transformers'
    default it does not penalise the prompt's tokens, which would push the model away from facts in memory."""
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    """Instructions placed before the conversation (ignored by DialoGPT-style models)."""
    min_new_tokens: int = 0
    """Forces at least this many tokens (benchmarks use it to compare equal work)."""
    summary_tokens: int = 96
    """Length bound of the summaries written for summary memories."""


@dataclass
class ReplyStats:
    seconds: float
    first_token_seconds: float
    new_tokens: int
    prompt_tokens: int
    truncated_prompt: bool
    engine: str = ""
    """The engine that generated the reply ("llama.cpp", "transformers" or "openai-compatible")."""
    server: str = ""
    """For a model on an OpenAI-compatible server: the server that answered."""

    @property
    def tokens_per_second(self) -> float:
        return self.new_tokens / self.seconds if self.seconds > 0 else 0.0

    def describe(self) -> str:
        text = (f"{self.engine}{f' ({self.server})' if self.server else ''} · " if self.engine else "") + (
                f"{self.seconds:.1f} s · {self.new_tokens} tokens · {self.tokens_per_second:.1f} tok/s · "
                f"prompt {self.prompt_tokens} tokens · first token {self.first_token_seconds:.2f} s")
        return text + (" · prompt was cut to fit the model's context" if self.truncated_prompt else "")


def generation_kwargs(loaded: LoadedModel, settings: GenerationSettings, prompt_length: int) -> dict:
    """model.generate arguments for these settings (shared by the chat stream and batched evaluation)."""
    tokenizer = loaded.tokenizer
    sampling = settings.temperature > 0
    kwargs = dict(
        max_new_tokens=int(settings.max_new_tokens),
        min_new_tokens=int(settings.min_new_tokens) or None,
        do_sample=sampling,
        temperature=float(settings.temperature) if sampling else None,
        top_p=float(settings.top_p) if sampling else None,
        top_k=None,
        pad_token_id=tokenizer.pad_token_id,
    )
    if settings.repetition_penalty != 1.0:
        ignore = 1 if loaded.entry.seq2seq else prompt_length  # seq2seq: only the decoder start token
        kwargs["logits_processor"] = LogitsProcessorList(
            [RepetitionPenaltyLogitsProcessor(float(settings.repetition_penalty), prompt_ignore_length=ignore)])
    stops = STOP_STRINGS[loaded.entry.prompt_style]
    if stops:
        kwargs.update(stop_strings=stops, tokenizer=tokenizer)
    return kwargs


# ------------------------------------------------------------------------------------------------ streaming


class _StopWhenSet(StoppingCriteria):
    def __init__(self, event: threading.Event):
        self.event = event

    def __call__(self, input_ids, scores, **kwargs) -> torch.BoolTensor:
        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)


class _TokenStreamer(BaseStreamer):
    """Hands the decoded reply so far to the consumer after every token (transformers' TextIteratorStreamer
    waits for a space, so unspaced text would appear all at once). Partial UTF-8 characters are held back."""

    _END = object()

    def __init__(self, tokenizer, skip_first: bool = True):
        self.tokenizer, self.skip_first = tokenizer, skip_first
        self.ids: list[int] = []
        self.queue: queue.Queue = queue.Queue()

    def put(self, value) -> None:
        if self.skip_first:  # generate() first hands over the prompt (or the decoder start token)
            self.skip_first = False
            return
        self.ids.extend(value.reshape(-1).tolist())
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        if not text.endswith("\ufffd"):
            self.queue.put(text)

    def end(self) -> None:
        self.queue.put(self._END)

    def __iter__(self) -> Iterator[str]:
        while (item := self.queue.get()) is not self._END:
            yield item


def cut_at_stop(text: str, stops: list[str]) -> tuple[str, bool]:
    """Text before the first stop string, and whether one was found."""
    cuts = [text.find(s) for s in stops if s in text]
    return (text[: min(cuts)], True) if cuts else (text, False)


def _holdback(text: str, stops: list[str]) -> str:
    """Text safe to show now: a tail that might be the start of a stop string is held back."""
    for stop in stops:
        for n in range(min(len(stop) - 1, len(text)), 0, -1):
            if text.endswith(stop[:n]):
                text = text[:-n]
                break
    return text


class ReplyStream:
    """Iterate for the reply so far (cumulative text); afterwards `.text` and `.stats` hold the result.

    Leaving the loop early (a closed browser tab, a Stop click) stops generation within one token. The model's
    engine generates: transformers' generate, or chat/llama_engine.py on llama.cpp; prompts, stop strings and
    stats are the same for both.
    """

    def __init__(self, loaded: LoadedModel, prompt: str, settings: GenerationSettings):
        self.loaded, self.settings = loaded, settings
        self.stops = STOP_STRINGS[loaded.entry.prompt_style]
        tokenizer = loaded.tokenizer
        ids = encode_prompt(tokenizer, loaded.entry.prompt_style, prompt)
        limit = max(16, loaded.max_positions - (0 if loaded.entry.seq2seq else settings.max_new_tokens))
        self.truncated = len(ids) > limit
        self.prompt_ids: list[int] = ids[-limit:]
        self.input_ids = torch.tensor([self.prompt_ids]).to(loaded.device)
        self.prompt_text = tokenizer.decode(self.prompt_ids)
        """The exact text the model receives (after any cut to fit its context), special tokens included."""
        self.text = ""
        self.stats: ReplyStats | None = None

    def _transformers_run(self, stop: threading.Event, result: dict):
        loaded = self.loaded
        threads = runtime.pick_threads() if loaded.device == "cpu" else None
        streamer = _TokenStreamer(loaded.tokenizer)
        kwargs = generation_kwargs(loaded, self.settings, self.input_ids.shape[1])
        kwargs.update(input_ids=self.input_ids, attention_mask=torch.ones_like(self.input_ids), streamer=streamer,
                      stopping_criteria=StoppingCriteriaList([_StopWhenSet(stop)]))

        def run() -> None:
            try:
                if threads:
                    runtime.use_threads(threads)
                with torch.inference_mode():
                    output = loaded.model.generate(**kwargs)
                result["new_tokens"] = output.shape[1] - (1 if loaded.entry.seq2seq else self.input_ids.shape[1])
            except BaseException as e:  # noqa: BLE001 - re-raised in the consumer thread
                result["error"] = e
                streamer.end()

        return streamer, run

    def _llama_run(self, stop: threading.Event, result: dict):
        from chat import llama_engine

        streamer = llama_engine.TokenQueue(self.loaded.tokenizer)

        def run() -> None:
            try:
                result["new_tokens"] = llama_engine.generate(self.loaded, self.prompt_ids, self.settings, stop,
                                                             streamer.put)
            except BaseException as e:  # noqa: BLE001 - re-raised in the consumer thread
                result["error"] = e
            finally:
                streamer.end()

        return streamer, run

    def __iter__(self) -> Iterator[str]:
        loaded = self.loaded
        stop = threading.Event()
        result: dict = {}
        start_worker = self._llama_run if loaded.engine == "llama.cpp" else self._transformers_run
        streamer, run = start_worker(stop, result)
        start = time.perf_counter()
        first_token = None
        worker = runtime.submit_to_model_thread(run)
        raw = ""
        try:
            for raw in streamer:
                if first_token is None:
                    first_token = time.perf_counter() - start
                visible, stopped = cut_at_stop(raw, self.stops)
                if stopped:
                    stop.set()
                    self.text = visible.rstrip()
                    yield self.text
                    break
                shown = _holdback(visible, self.stops)
                if shown != self.text:
                    self.text = shown
                    yield self.text
        finally:
            stop.set()
            worker.result()
        if "error" in result:
            error = result["error"]
            if isinstance(error, (torch.OutOfMemoryError, MemoryError)):
                raise ModelError(f"Out of memory while generating with {loaded.entry.name}. Try a shorter "
                                 "conversation, fewer new tokens or a smaller model.") from error
            raise error
        self.text = cut_at_stop(raw, self.stops)[0].strip()
        yield self.text
        seconds = time.perf_counter() - start
        self.stats = ReplyStats(seconds, first_token or seconds, int(result["new_tokens"]), len(self.prompt_ids),
                                self.truncated, loaded.engine)


def open_stream(loaded: LoadedModel, messages: list[Message], system_prompt: str, settings: GenerationSettings):
    """The reply stream for `messages`: rendered into the model's prompt here, or for a model on an
    OpenAI-compatible server sent as messages (chat/openai_backend.py; its stream has the same interface)."""
    if loaded.engine == REMOTE_ENGINE:
        from chat import openai_backend  # it imports this module

        return openai_backend.RemoteReplyStream(loaded, messages, system_prompt, settings)
    return ReplyStream(loaded, render_prompt(loaded, messages, system_prompt), settings)


def token_counter(loaded: LoadedModel, system_prompt: str) -> memory.CountTokens:
    """history_token_counter, or for a model on a server the server's own count (chat/openai_backend.py)."""
    if loaded.engine == REMOTE_ENGINE:
        from chat import openai_backend

        return openai_backend.token_counter(loaded)
    return history_token_counter(loaded, system_prompt)


def complete(loaded: LoadedModel, messages: list[Message], settings: GenerationSettings,
             system_prompt: str = SUMMARY_SYSTEM_PROMPT, max_new_tokens: int | None = None) -> str:
    """A whole greedy reply, not streamed (used for summaries and follow-up rewrites)."""
    quiet = GenerationSettings(max_new_tokens=max_new_tokens or settings.summary_tokens, temperature=0.0,
                               repetition_penalty=settings.repetition_penalty)
    stream = open_stream(loaded, messages, system_prompt, quiet)
    for _ in stream:
        pass
    return stream.text


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
    sources: list[knowledge.Passage] = field(default_factory=list)
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
    knowledge.NO_SOURCE_INSTRUCTIONS Qwen2.5-Coder-0.5B and SmolLM2 declined 0 of 4 off-topic questions
    (bench/followup_rewrite.py) and answered from their own knowledge. Memory records the question and the reply
    only, never the passages."""
    user_text = check_message(user_text)
    count_tokens = token_counter(loaded, settings.system_prompt)
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
        messages = [{"role": "system", "content": knowledge.grounded_prompt(found.passages)}] + messages
    stream = open_stream(loaded, messages, system_prompt, settings)
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
    except (knowledge.KnowledgeError, grounding.KnowledgeSettingsError) as e:
        raise ChatError(str(e)) from e
