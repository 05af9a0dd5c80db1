"""Chat models on an OpenAI-compatible server: vLLM, llama.cpp's server, llama-cpp-python's, Ollama, TGI.

`openai:<model>@<server>` names one; <server> is a configured server's name (from CQA_OPENAI_BASE_URL,
CQA_OPENAI_API_KEY, CQA_OPENAI_MODELS, named $CQA_OPENAI_NAME or "default"; or saved in the Models tab to
<settings>/openai_servers.json, owner-only, the key never sent back to a page) or, outside shared mode only
(studio/access.py), a base URL: `openai:qwen@http://127.0.0.1:8080/v1`.

Memory and retrieval stay in this app: what memory keeps goes as chat messages to /v1/chat/completions, streamed
(server-sent events read with httpx), and the server applies its chat template. Leaving the reply loop (Stop)
closes the connection, which ends the request (tested on llama-cpp-python's server). Settings map to max_tokens,
temperature (0 = greedy) and top_p; the repetition penalty goes as vLLM's `repetition_penalty` and llama.cpp's
`repeat_penalty`, both multiplicative like ours but over the prompt too (llama.cpp: the last 64 tokens). OpenAI's
frequency_penalty is additive and grows with every repeat, another scale, so it is not sent. A server whose error
names one of the OPTIONAL_FIELDS is asked again without them, and the stats line says so. Memory budgets count with
the server's tokenizer where it has an endpoint (llama-cpp-python /extras/tokenize; llama.cpp, vLLM /tokenize),
else with estimate_tokens().
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx

from studio.engines.base import (
    GenerationSettings,
    ReplyStats,
    Timing,
    Tokenized,
    answers_one_at_a_time,
    cut_at_stop,
    visible_replies,
)
from studio.engines.prompts import STOP_STRINGS, merge_system
from studio.memory import CountTokens, Message
from studio.models.refs import ModelEntry, ModelError, ModelRef
from studio.models.servers import CHECK_TIMEOUT, REMOTE_ENGINE, Server, describe, problem_message, server_of, split_id

STREAM_TIMEOUT = httpx.Timeout(300.0, connect=5.0)
"""A CPU server may read a long grounded prompt for minutes before its first token; Stop ends the wait anyway."""
MESSAGE_OVERHEAD_TOKENS = 5
"""Tokens a chat template adds around each message: ChatML's "<|im_start|>user\\n ... <|im_end|>\\n" and Llama 3's
header/eot tokens are 5. The server applies the template, so its exact count is not known here."""
CHARS_PER_TOKEN = 3.5
"""The estimate without a tokenize endpoint. Characters per token measured: Qwen2.5 3.6 and SmolLM2 3.2 on
tests/data/knowledge/handbook.md, 4.2 and 4.1 on assets/insurer_faq.csv. 3.5 errs towards counting more, so a
memory budget is seldom overrun; text in other scripts is undercounted."""
OPTIONAL_FIELDS = ("repetition_penalty", "repeat_penalty", "min_tokens", "stream_options")
"""Fields beyond OpenAI's own chat API that some servers refuse (OpenAI: HTTP 400, TGI: 422, llama-cpp-python a
500 naming the field)."""


# -------------------------------------------------------------------------------------------------------- model


@dataclass
class RemoteModel:
    """A model on a server, behind the same interface as every engine (engines/base.py): it chats, and answers
    evaluation questions one at a time; its weights are not here, so it scores no log-likelihood."""

    entry: ModelEntry
    server: Server
    model: str
    device: str = ""
    precision: str = "set by the server"
    engine: str = REMOTE_ENGINE
    engine_note: str = ""
    tokenize: str | None = None
    """The tokenize endpoint that works on this server ("" = none; None = not tried yet)."""
    tokenize_offset: int = 0
    """Tokens that endpoint gives an empty text (llama-cpp-python's adds the BOS token), taken off each count."""
    counts: dict[str, int] = field(default_factory=dict, repr=False)
    """Tokens per message text, so that memory's trimming asks the server once per message."""

    def open_stream(self, messages: list[Message], system_prompt: str,
                    settings: GenerationSettings) -> RemoteReplyStream:
        return RemoteReplyStream(self, messages, system_prompt, settings)

    def token_counter(self, system_prompt: str) -> CountTokens:
        return token_counter(self)

    def answer_batch(self, questions: list[str], settings: GenerationSettings, batch_size: int,
                     system_prompts: list[str] | None = None) -> tuple[list[str], Timing]:
        return answers_one_at_a_time(self, questions, settings, system_prompts)

    def answer_log_likelihood(self, items: list[Tokenized]) -> tuple[float, int]:
        raise ModelError(f"{self.entry.name} runs on its server, which gives no log-likelihoods; pick a bundled, "
                         "hub or folder model to measure perplexity")


_remotes: dict[tuple[ModelRef, Server], RemoteModel] = {}
"""Kept per reference and server settings (a changed URL or key is a new one), with their token counts."""


def load(ref: ModelRef) -> RemoteModel:
    """`ref` when its server serves it now (checked as describe() does), else ModelError saying why."""
    entry = describe(ref)
    if not entry.available:
        raise ModelError(f"{entry.name} is unavailable: {entry.reason}.")
    server = server_of(ref)
    if (ref, server) not in _remotes:
        _remotes[(ref, server)] = RemoteModel(entry, server, split_id(ref.id)[0],
                                              device=f"server {server.name} ({server.base_url})")
    return _remotes[(ref, server)]


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def _tokenize(remote: RemoteModel, path: str, text: str) -> int:
    body = {"model": remote.model, "input": text, "prompt": text, "content": text, "add_special": False}
    response = httpx.post(remote.server.root + path, json=body, headers=remote.server.headers(), timeout=CHECK_TIMEOUT)
    response.raise_for_status()
    found = response.json()
    return int(found["count"]) if "count" in found else len(found["tokens"])


def count_text(remote: RemoteModel, text: str) -> int:
    """Tokens of `text` by the server's tokenizer, or estimate_tokens() when it has no tokenize endpoint."""
    candidates = ["/extras/tokenize", "/tokenize"] if remote.tokenize is None else [remote.tokenize]
    for path in filter(None, candidates):
        try:
            if remote.tokenize is None:
                remote.tokenize_offset = _tokenize(remote, path, "")
            count = _tokenize(remote, path, text) - remote.tokenize_offset
            remote.tokenize = path
            return max(0, count)
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            continue
    remote.tokenize = remote.tokenize if remote.tokenize else ""
    return estimate_tokens(text)


def token_counter(remote: RemoteModel) -> CountTokens:
    """Tokens that messages add to the prompt: each text by the server's tokenizer + MESSAGE_OVERHEAD_TOKENS."""
    def count(messages: list[Message]) -> int:
        total = 0
        for m in messages:
            if m["content"] not in remote.counts:
                if len(remote.counts) > 10_000:  # a long-running app: forget old conversations' texts
                    remote.counts.clear()
                remote.counts[m["content"]] = count_text(remote, m["content"])
            total += remote.counts[m["content"]] + MESSAGE_OVERHEAD_TOKENS
        return total

    return count


# ---------------------------------------------------------------------------------------------------- streaming

_refuses_optional: set[str] = set()
"""Base URLs whose error named one of OPTIONAL_FIELDS."""


def chat_messages(messages: list[Message], system_prompt: str) -> list[Message]:
    """The messages sent: one system message (instructions + any memory summary), then the turns."""
    system, turns = merge_system(messages, system_prompt)
    return ([{"role": "system", "content": system}] if system else []) + [dict(m) for m in turns]


def request_body(model: str, messages: list[Message], settings: GenerationSettings, stops: list[str],
                 optional: bool = True) -> dict:
    sampling = settings.temperature > 0
    body = {"model": model, "messages": messages, "stream": True, "max_tokens": int(settings.max_new_tokens),
            "temperature": float(settings.temperature) if sampling else 0.0,
            "top_p": float(settings.top_p) if sampling else 1.0}
    if stops:
        body["stop"] = stops
    if optional:
        body.update(repetition_penalty=float(settings.repetition_penalty),
                    repeat_penalty=float(settings.repetition_penalty), stream_options={"include_usage": True})
        if settings.min_new_tokens:
            body["min_tokens"] = int(settings.min_new_tokens)
    return body


def sse_events(lines: Iterator[str]) -> Iterator[dict]:
    """The JSON payloads of server-sent `data:` lines, until `data: [DONE]` (comments and pings are skipped)."""
    for line in lines:
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        if payload == "[DONE]":
            return
        if payload:
            yield json.loads(payload)


class RemoteReplyStream:
    """The reply stream of a RemoteModel (engines/base.Stream): iterate for the reply so far; `.text`, `.stats`,
    `.prompt_text`."""

    def __init__(self, remote: RemoteModel, messages: list[Message], system_prompt: str, settings: GenerationSettings):
        self.remote, self.settings, self.stops = remote, settings, STOP_STRINGS[remote.entry.prompt_style]
        self.messages = chat_messages(messages, system_prompt)
        self.url = f"{remote.server.base_url}/chat/completions"
        self.prompt_text = f"POST {self.url} (model {remote.model})\n" + json.dumps(self.messages, indent=1,
                                                                                  ensure_ascii=False)
        """What the server received: the messages, before its chat template."""
        self.text, self.note, self.stats, self.response = "", "", None, None

    def _open(self, client: httpx.Client) -> httpx.Response:
        """The streaming response; without the OPTIONAL_FIELDS once this server refused them."""
        server = self.remote.server
        optional = server.base_url not in _refuses_optional
        while True:
            body = request_body(self.remote.model, self.messages, self.settings, self.stops, optional)
            request = client.build_request("POST", self.url, json=body, headers=server.headers())
            try:
                response = client.send(request, stream=True)
            except httpx.HTTPError as e:
                raise ModelError(problem_message(server, e, STREAM_TIMEOUT.read)) from e
            if response.status_code == 200:
                return response
            response.read()
            response.close()
            if optional and any(name in response.text for name in OPTIONAL_FIELDS):
                _refuses_optional.add(server.base_url)
                optional = False
                continue
            raise ModelError(problem_message(server, response, STREAM_TIMEOUT.read))

    def __iter__(self) -> Iterator[str]:
        start, first_token, raw, chunks, usage = time.perf_counter(), None, "", 0, {}
        with httpx.Client(timeout=STREAM_TIMEOUT) as client:
            self.response = self._open(client)
            if self.remote.server.base_url in _refuses_optional:
                self.note = "the server takes no repetition penalty"

            def texts() -> Iterator[str]:
                nonlocal raw, chunks, usage, first_token
                for event in sse_events(self.response.iter_lines()):
                    if "error" in event:  # a server that fails mid-reply says so in the stream
                        raise ModelError(f"{self.remote.server.name} stopped with an error: {event['error']}")
                    usage = event.get("usage") or usage
                    delta = ((event.get("choices") or [{}])[0].get("delta") or {}).get("content")
                    if not delta:
                        continue
                    chunks += 1
                    first_token = first_token or time.perf_counter() - start
                    raw += delta
                    yield raw

            try:
                for self.text in visible_replies(texts(), self.stops, lambda: None):
                    yield self.text
            except (httpx.HTTPError, ValueError) as e:
                raise ModelError(f"the reply from {self.remote.server.name} broke off: {e}") from e
            finally:
                self.response.close()  # Stop: the server sees the closed connection and stops generating
        self.text = cut_at_stop(raw, self.stops)[0].strip()
        yield self.text
        seconds = time.perf_counter() - start
        # usage comes with stream_options.include_usage (vLLM, Ollama); llama.cpp's servers send a chunk per token
        # (several only where they hold back a partial character), so the chunks count it there
        new_tokens = usage.get("completion_tokens") or chunks
        prompt_tokens = usage.get("prompt_tokens") or token_counter(self.remote)(self.messages)
        server = f"{self.remote.server.name}" + (f", {self.note}" if self.note else "")
        self.stats = ReplyStats(seconds, first_token or seconds, int(new_tokens), int(prompt_tokens), False,
                                REMOTE_ENGINE, server=server)
