"""What every engine offers, and the pieces they share. No Gradio, no model here.

An engine is the loaded model itself (`LoadedModel`): transformers (engines/hf.py), llama.cpp
(engines/llama_cpp.py) or a model on an OpenAI-compatible server (engines/remote.py). Each streams a reply to a
conversation, counts the tokens earlier turns add to its prompt, answers a batch of single questions and measures
the log-likelihood of reference answers; engines/loader.py is the one place that chooses one. Callers use these
methods and never ask which engine they hold (the `engine` field is a name to show, nothing to branch on).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

import torch

from studio.core import runtime
from studio.engines.prompts import DEFAULT_SYSTEM_PROMPT, STOP_STRINGS, SUMMARY_SYSTEM_PROMPT, encode_prompt
from studio.memory import CountTokens, Message
from studio.models.refs import ModelEntry, ModelError


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


@dataclass
class Tokenized:
    """One answer to score: the tokens the model reads, and which of them are the answer."""

    input_ids: list[int]
    labels: list[int]
    """Causal: -100 over the prompt, token ids over the answer and its end token. Seq2seq: the answer's ids."""
    prompt_cut: int = 0
    """Prompt tokens cut from the left to fit max_length."""


Timing = dict
"""{"seconds", "generated_tokens", "tokens_per_s", "batch_size"} of a batch of answers."""


class Stream(Protocol):
    """A reply being generated: iterate for the reply so far (cumulative text); afterwards `.text` and `.stats`
    hold the result. `.prompt_text` is what the model received. Leaving the loop early stops generation."""

    text: str
    stats: ReplyStats | None
    prompt_text: str

    def __iter__(self) -> Iterator[str]: ...


class LoadedModel(Protocol):
    """A model ready to answer, on one engine: the one interface every engine implements."""

    entry: ModelEntry
    device: str
    precision: str
    engine: str
    """The engine's name, shown to users ("transformers", "llama.cpp", "openai-compatible")."""
    engine_note: str
    """Why this model runs on transformers although llama.cpp was meant ("auto"), when it does."""

    @property
    def max_positions(self) -> int: ...

    def open_stream(self, messages: list[Message], system_prompt: str, settings: GenerationSettings) -> Stream:
        """The reply to `messages` under `system_prompt`, streamed."""

    def token_counter(self, system_prompt: str) -> CountTokens:
        """Tokens that earlier turns add to this model's prompt (memory budgets count with it)."""

    def answer_batch(self, questions: list[str], settings: GenerationSettings, batch_size: int,
                     system_prompts: list[str] | None = None) -> tuple[list[str], Timing]:
        """Each question answered alone (no earlier turns), as the chat would answer it; in order, with timings.
        `system_prompts` (one per question) replaces settings.system_prompt."""

    def answer_log_likelihood(self, items: list[Tokenized]) -> tuple[float, int]:
        """(summed negative log-likelihood, token count) of the labelled tokens of `items`."""


# ------------------------------------------------------------------------------------------- stop strings


def cut_at_stop(text: str, stops: list[str]) -> tuple[str, bool]:
    """Text before the first stop string, and whether one was found."""
    cuts = [text.find(s) for s in stops if s in text]
    return (text[: min(cuts)], True) if cuts else (text, False)


def holdback(text: str, stops: list[str]) -> str:
    """Text safe to show now: a tail that might be the start of a stop string is held back."""
    for stop in stops:
        for n in range(min(len(stop) - 1, len(text)), 0, -1):
            if text.endswith(stop[:n]):
                text = text[:-n]
                break
    return text


def visible_replies(raw_texts: Iterable[str], stops: list[str], stop: Callable[[], None]) -> Iterator[str]:
    """The reply as it may be shown after each raw text (the whole reply so far): cut at the first stop string
    (then `stop()` is called and the stream ends), a tail that may start one held back, unchanged texts skipped."""
    shown = ""
    for raw in raw_texts:
        visible, stopped = cut_at_stop(raw, stops)
        if stopped:
            stop()
            yield visible.rstrip()
            return
        if (now := holdback(visible, stops)) != shown:
            shown = now
            yield shown


# --------------------------------------------------------------------------------- local engines' stream


class ReplyStream:
    """The reply stream of a model whose prompt is rendered here (transformers, llama.cpp): iterate for the reply
    so far (cumulative text); afterwards `.text` and `.stats` hold the result.

    The model renders and tokenises; its `start_generation(prompt_ids, settings, stop, result)` returns the
    decoded texts so far and the work to run on the model thread. Leaving the loop early (a closed browser tab, a
    Stop click) stops generation within one token. Prompts, stop strings and stats are the same for every engine.
    """

    def __init__(self, loaded, prompt: str, settings: GenerationSettings):
        self.loaded, self.settings = loaded, settings
        self.stops = STOP_STRINGS[loaded.entry.prompt_style]
        tokenizer = loaded.tokenizer
        ids = encode_prompt(tokenizer, loaded.entry.prompt_style, prompt)
        limit = max(16, loaded.max_positions - (0 if loaded.entry.seq2seq else settings.max_new_tokens))
        self.truncated = len(ids) > limit
        self.prompt_ids: list[int] = ids[-limit:]
        self.prompt_text = tokenizer.decode(self.prompt_ids)
        """The exact text the model receives (after any cut to fit its context), special tokens included."""
        self.text = ""
        self.stats: ReplyStats | None = None

    def __iter__(self) -> Iterator[str]:
        loaded = self.loaded
        stop = threading.Event()
        result: dict = {}
        texts, run = loaded.start_generation(self.prompt_ids, self.settings, stop, result)
        start = time.perf_counter()
        first_token = None
        worker = runtime.submit_to_model_thread(run)
        raw = ""

        def timed() -> Iterator[str]:
            nonlocal raw, first_token
            for raw in texts:
                if first_token is None:
                    first_token = time.perf_counter() - start
                yield raw

        try:
            for self.text in visible_replies(timed(), self.stops, stop.set):
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


# ------------------------------------------------------------------------------------------ whole replies


def complete(loaded: LoadedModel, messages: list[Message], settings: GenerationSettings,
             system_prompt: str = SUMMARY_SYSTEM_PROMPT, max_new_tokens: int | None = None) -> str:
    """A whole greedy reply, not streamed (used for summaries and follow-up rewrites)."""
    quiet = GenerationSettings(max_new_tokens=max_new_tokens or settings.summary_tokens, temperature=0.0,
                               repetition_penalty=settings.repetition_penalty)
    stream = loaded.open_stream(messages, system_prompt, quiet)
    for _ in stream:
        pass
    return stream.text


def answers_one_at_a_time(loaded: LoadedModel, questions: list[str], settings: GenerationSettings,
                          system_prompts: list[str] | None = None) -> tuple[list[str], Timing]:
    """answer_batch for an engine that answers one question at a time, through its own reply stream."""
    systems = system_prompts or [settings.system_prompt] * len(questions)
    answers, generated = [], 0
    start = time.perf_counter()
    for question, system in zip(questions, systems):
        stream = loaded.open_stream([{"role": "user", "content": question}], system, settings)
        for _ in stream:
            pass
        answers.append(stream.text)
        generated += stream.stats.new_tokens
    return answers, timing(time.perf_counter() - start, generated, 1)


def timing(seconds: float, generated: int, batch_size: int) -> Timing:
    return {"seconds": round(seconds, 2), "generated_tokens": generated,
            "tokens_per_s": round(generated / max(seconds, 1e-9), 1), "batch_size": batch_size}
