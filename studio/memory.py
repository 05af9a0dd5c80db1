"""Conversation memory: what part of a conversation reaches the model's prompt.

The ONLY module that imports LangChain memory machinery. It uses LangChain 1.x's current equivalents of the
classic memory classes (langchain.memory is gone; langchain_classic's classes are deprecated):
  none            nothing from earlier turns                    (no memory)
  buffer          every earlier turn                            (ConversationBufferMemory)
  window          the last k exchanges                          (ConversationBufferWindowMemory)
  token_budget    the newest turns that fit in max_tokens       (ConversationTokenBufferMemory)
  summary         a running summary written by the model        (ConversationSummaryMemory)
  summary_buffer  recent turns within max_tokens + a summary of older ones (ConversationSummaryBufferMemory)

Memory state is plain, deep-copyable data (`MemoryState`) that the UI keeps per browser session. Token counts
always come from the model's own tokenizer, passed in as `count_tokens`: LangChain's default counter downloads
GPT-2's tokenizer, which offline silently counts every message as 0 tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, trim_messages
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda

MEMORY_KINDS = ("none", "buffer", "window", "token_budget", "summary", "summary_buffer")
MEMORY_LABELS = {
    "none": "No memory",
    "buffer": "Full buffer (every turn)",
    "window": "Last k exchanges",
    "token_budget": "Token budget (newest turns)",
    "summary": "Running summary",
    "summary_buffer": "Summary + recent buffer",
}

Message = dict
"""{"role": "user" | "assistant" | "system", "content": str}"""
CountTokens = Callable[[list[Message]], int]
"""Tokens the model's tokenizer gives these messages as rendered in the model's prompt format."""
Complete = Callable[[list[Message]], str]
"""Run the chat model on messages and return its reply (used to write summaries)."""


@dataclass
class MemoryConfig:
    kind: str = "buffer"
    """One of MEMORY_KINDS."""
    k: int = 3
    """window: how many earlier exchanges (user + assistant) are kept."""
    max_tokens: int = 256
    """token_budget and summary_buffer: the most tokens earlier turns may take in the prompt."""

    def __post_init__(self) -> None:
        if self.kind not in MEMORY_KINDS:
            raise ValueError(f"Unknown memory {self.kind!r}; choose one of {', '.join(MEMORY_KINDS)}.")
        self.k = int(self.k)
        self.max_tokens = int(self.max_tokens)
        if self.k < 1 or self.max_tokens < 1:
            raise ValueError("Memory window k and token budget must be at least 1.")


@dataclass
class MemoryState:
    messages: list[Message] = field(default_factory=list)
    """The whole conversation, user and assistant turns, as shown to the user."""
    summary: str = ""
    """summary kinds: the running summary of the first `summarized` messages."""
    summarized: int = 0


SUMMARY_PROMPT = ChatPromptTemplate.from_messages(
    [
        (
            "human",
            "Update the summary of a conversation between a user and an assistant. Keep every name, number and "
            "fact the user gave. Answer with the new summary only, in at most three sentences.\n\n"
            "Current summary:\n{summary}\n\nNew lines of conversation:\n{new_lines}\n\nNew summary:",
        )
    ]
)


def _to_langchain(messages: list[Message]) -> list[BaseMessage]:
    kinds = {"user": HumanMessage, "assistant": AIMessage, "system": SystemMessage}
    return [kinds[m["role"]](content=m["content"]) for m in messages]


def _from_langchain(messages: list[BaseMessage]) -> list[Message]:
    roles = {"human": "user", "ai": "assistant", "system": "system"}
    return [{"role": roles[m.type], "content": m.content} for m in messages]


def _newest_within(messages: list[Message], max_tokens: int, count_tokens: CountTokens) -> list[Message]:
    """The newest messages whose rendered token count fits in max_tokens, starting on a user turn."""
    kept = trim_messages(
        _to_langchain(messages),
        max_tokens=max_tokens,
        token_counter=lambda msgs: count_tokens(_from_langchain(msgs)),
        strategy="last",
        start_on="human",
    )
    return _from_langchain(kept)


def summary_message(summary: str) -> Message:
    return {"role": "system", "content": f"Summary of the conversation so far: {summary}"}


def context(config: MemoryConfig, state: MemoryState, count_tokens: CountTokens) -> list[Message]:
    """The earlier turns (and summary) that go into the prompt before the new user message."""
    history = state.messages
    if config.kind == "none":
        return []
    if config.kind == "buffer":
        return list(history)
    if config.kind == "window":
        return _from_langchain(trim_messages(_to_langchain(history), max_tokens=2 * config.k, token_counter=len,
                                             strategy="last", start_on="human"))
    if config.kind == "token_budget":
        return _newest_within(history, config.max_tokens, count_tokens)
    if config.kind == "summary":
        return [summary_message(state.summary)] if state.summary else []
    recent = list(history[state.summarized:])  # summary_buffer
    return ([summary_message(state.summary)] if state.summary else []) + recent


def summarize(complete: Complete, summary: str, new_messages: list[Message]) -> str:
    """One step of progressive summarisation, written by the chat model itself."""
    lines = "\n".join(f"{'User' if m['role'] == 'user' else 'Assistant'}: {m['content']}" for m in new_messages)
    chain = SUMMARY_PROMPT | RunnableLambda(lambda prompt: complete(_from_langchain(prompt.to_messages())))
    chain = chain | StrOutputParser()
    return chain.invoke({"summary": summary or "(empty)", "new_lines": lines}).strip()


def record_turn(
    config: MemoryConfig,
    state: MemoryState,
    user_text: str,
    reply: str,
    count_tokens: CountTokens,
    complete: Complete,
) -> MemoryState:
    """The state after a finished exchange; summary kinds ask the model for an updated summary here."""
    messages = state.messages + [{"role": "user", "content": user_text}, {"role": "assistant", "content": reply}]
    summary, summarized = state.summary, state.summarized
    if config.kind == "summary":
        summary = summarize(complete, summary, messages[summarized:])
        summarized = len(messages)
    elif config.kind == "summary_buffer":
        recent = messages[summarized:]
        kept = _newest_within(recent, config.max_tokens, count_tokens)
        pruned = recent[: len(recent) - len(kept)]
        if pruned:
            summary = summarize(complete, summary, pruned)
            summarized += len(pruned)
    return MemoryState(messages=messages, summary=summary, summarized=summarized)
