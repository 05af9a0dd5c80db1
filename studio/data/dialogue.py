"""Turn Q/A pairs into multi-turn user/assistant conversations with small talk, for training on dialogue.

The research report had a hosted chat model write conversations around its Q/A pairs. Here a chat model (any
OpenAI-compatible endpoint, e.g. a local vLLM, llama.cpp or Ollama server) writes only the small talk: greeting,
lead-ins to the next question, goodbye. The questions and the factual answers are copied verbatim, so
fine-tuning still teaches the facts. Without a model, or where its line is unusable, fixed templates fill the slot.

    python -m studio conversations assets/insurer_faq.csv --out data/faq_conversations.jsonl --pairs 3

uses the endpoint in CQA_OPENAI_BASE_URL (+ CQA_OPENAI_API_KEY, CQA_OPENAI_MODEL) when set, else the templates;
`--model REF` has a local model of the catalogue write the small talk instead.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from studio.data import files, qa

Complete = Callable[[list[dict]], str]
"""Chat messages [{"role", "content"}] -> the model's reply text."""

MAX_LINE_CHARS = 300
"""A model's small-talk line longer than this is treated as garbage and replaced by a template line."""
TIMEOUT_S = 60

USER_GREETINGS = (
    "Hi, I have a few questions.",
    "Hello! Could you help me with something?",
    "Good morning. I was hoping you could answer some questions for me.",
    "Hi there, I need some information, please.",
    "Hello, is this the right place to ask a few questions?",
)
AGENT_GREETINGS = (
    "Hello! Of course, what would you like to know?",
    "Hi, thanks for getting in touch. How can I help you today?",
    "Good to hear from you. Go ahead, I'm happy to help.",
    "Hello! Sure, ask me anything.",
    "Welcome! What can I do for you?",
)
LEAD_INS = ("", "One more thing: ", "Thanks, that helps. ", "I see. Another question: ", "Got it. ",
            "Okay, and one more: ")
"""Put before each question after the first; "" asks it plainly."""
USER_CLOSINGS = (
    "Thanks, that's all I needed.",
    "Great, thank you for your help!",
    "That answers everything. Thanks a lot.",
    "Perfect, thanks. Bye!",
    "Thank you, that was very helpful.",
)
AGENT_CLOSINGS = (
    "You're welcome! Have a great day.",
    "Glad I could help. Take care!",
    "Anytime. Goodbye!",
    "You're welcome. Feel free to come back if you have more questions.",
    "My pleasure. Have a nice day!",
)

# One instruction per slot, sent as a single user message (some small models' templates reject system turns).
PROMPT = ("You write one line of small talk for a customer-support chat. Reply with that line only: "
          "no quotes, no speaker names, no explanations.\n\n")
INSTRUCTIONS = {
    "user_greeting": "Write the customer's first message: a short friendly greeting saying they have {subject}. "
                     "Do not ask the questions yet.",
    "agent_greeting": "Write the support agent's short friendly reply to this greeting, inviting the question: "
                      '"{said}"',
    "lead_in": "The customer got an answer and now asks another question. Write only the few words they say "
               'before it, like "Thanks. One more thing:". Do not write the question.',
    "user_closing": "Write the customer's short last message, thanking the agent for the help.",
    "agent_closing": 'Write the support agent\'s short goodbye in reply to: "{said}"',
}


def make_conversations(records: list[dict], pairs_per_conversation: int = 3, seed: int = 0,
                       complete: Complete | None = None) -> list[dict]:
    """Group the Q/A pairs (by "topic" when present) into conversations of at most `pairs_per_conversation` pairs,
    wrapped in a greeting and a goodbye: [{"turns": [{"role", "content"}, ...]}, ...].

    Every pair is used once; its answer is an assistant turn, verbatim. Same seed -> same output (with complete=None).
    """
    if pairs_per_conversation < 1:
        raise ValueError(f"pairs_per_conversation must be at least 1, got {pairs_per_conversation}")
    for i, record in enumerate(records):
        if not record.get("question") or not record.get("answer"):
            raise ValueError(f"record {i} needs a non-empty 'question' and 'answer', got keys {sorted(record)}")
    rng = random.Random(seed)
    return [{"turns": _conversation(pairs, topic, rng, complete)}
            for topic, pairs in _groups(records, pairs_per_conversation, rng)]


def _groups(records: list[dict], size: int, rng: random.Random) -> list[tuple[str, list[dict]]]:
    by_topic: dict[str, list[dict]] = {}
    for record in records:
        by_topic.setdefault(str(record.get("topic") or ""), []).append(record)
    groups = []
    for topic, pairs in by_topic.items():
        pairs = pairs[:]
        rng.shuffle(pairs)
        # Even chunks (7 pairs by 3 -> 3, 2, 2) rather than leaving a lone pair at the end.
        count = math.ceil(len(pairs) / size)
        bounds = [round(i * len(pairs) / count) for i in range(count + 1)]
        groups += [(topic, pairs[a:b]) for a, b in zip(bounds, bounds[1:])]
    return groups


def _conversation(pairs: list[dict], topic: str, rng: random.Random, complete: Complete | None) -> list[dict]:
    def line(slot: str, templates: tuple[str, ...], **context) -> str:
        template = rng.choice(templates)  # drawn even when a model writes the line, so the seed fixes the rest
        if complete is None:
            return template
        instruction = INSTRUCTIONS[slot].format(**context)
        written = _clean(complete([{"role": "user", "content": PROMPT + instruction}]))
        return written if written is not None else template

    subject = f"some questions about {topic.replace('_', ' ')}" if topic else "a few questions"
    greeting = line("user_greeting", USER_GREETINGS, subject=subject)
    turns = [{"role": "user", "content": greeting},
             {"role": "assistant", "content": line("agent_greeting", AGENT_GREETINGS, said=greeting)}]
    for i, pair in enumerate(pairs):
        question = pair["question"]
        if i > 0:
            lead_in = line("lead_in", LEAD_INS)
            if lead_in and lead_in[-1].isalnum():
                lead_in += ":"
            question = f"{lead_in.strip()} {question}".strip()
        turns += [{"role": "user", "content": question}, {"role": "assistant", "content": pair["answer"]}]
    closing = line("user_closing", USER_CLOSINGS)
    turns += [{"role": "user", "content": closing},
              {"role": "assistant", "content": line("agent_closing", AGENT_CLOSINGS, said=closing)}]
    return turns


def _clean(text) -> str | None:
    """The model's line without quotes or a speaker label; None when it is unusable (empty, too long, no words)."""
    if not isinstance(text, str) or not text.strip() or len(text.strip()) > MAX_LINE_CHARS:
        return None
    first = next(part for part in text.strip().split("\n") if part.strip()).strip()
    first = re.sub(r"^(customer|agent|support agent|user|assistant)\s*:\s*", "", first, flags=re.IGNORECASE)
    first = first.strip().strip("\"'“”").strip()
    return first if re.search(r"[^\W\d_]", first) else None


def save_conversations(conversations: list[dict], path) -> Path:
    """Write JSONL, one {"turns": [...]} per line; data.load_file reads it back as kind "conversations"."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for conversation in conversations:
            f.write(json.dumps({"turns": conversation["turns"]}, ensure_ascii=False) + "\n")
    return path


# ---------------------------------------------------------------- an OpenAI-compatible chat endpoint


@dataclass
class OpenAIChat:
    """Calls POST {base_url}/chat/completions with the standard library only; an instance is a `Complete`."""

    base_url: str
    api_key: str = ""
    model: str = ""
    """Empty: the first model the server lists under GET {base_url}/models (local servers usually serve one)."""
    max_tokens: int = 80
    temperature: float = 0.7

    def __call__(self, messages: list[dict]) -> str:
        if not self.model:
            url = f"{self.base_url}/models"
            listing = self._request(url)
            try:
                self.model = listing["data"][0]["id"]
            except (KeyError, IndexError, TypeError):
                raise RuntimeError(f"{url} lists no model; set CQA_OPENAI_MODEL") from None
        url = f"{self.base_url}/chat/completions"
        body = {"model": self.model, "messages": messages, "max_tokens": self.max_tokens,
                "temperature": self.temperature}
        reply = self._request(url, body)
        try:
            return reply["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            raise RuntimeError(f"unexpected answer from {url}: {json.dumps(reply)[:300]}") from None

    def _request(self, url: str, body: dict | None = None) -> dict:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        payload = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(url, data=payload, headers=headers, method="GET" if body is None else "POST")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                return json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as e:
            detail = e.read().decode("utf-8", "replace")[:300]
            raise RuntimeError(f"{url} answered HTTP {e.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as e:
            raise RuntimeError(f"could not reach {url}: {getattr(e, 'reason', e)}") from None
        except ValueError:
            raise RuntimeError(f"{url} did not answer with JSON") from None


def openai_complete_from_env() -> Complete | None:
    """An OpenAIChat from CQA_OPENAI_BASE_URL (e.g. http://localhost:8000/v1), CQA_OPENAI_API_KEY and
    CQA_OPENAI_MODEL; None when CQA_OPENAI_BASE_URL is not set."""
    base_url = os.environ.get("CQA_OPENAI_BASE_URL", "").strip().rstrip("/")
    if not base_url:
        return None
    return OpenAIChat(base_url, api_key=os.environ.get("CQA_OPENAI_API_KEY", "").strip(),
                      model=os.environ.get("CQA_OPENAI_MODEL", "").strip())


def describe_writer(complete: Complete | None) -> str:
    if isinstance(complete, OpenAIChat):
        return f"{complete.model or 'the first model'} at {complete.base_url}"
    if isinstance(complete, LocalChat):
        return f"local model {complete.model}"
    return "templates"


@dataclass
class LocalChat:
    """A model of the catalogue (bundled, hub copy or folder) writing the small-talk lines, loaded in-process."""

    model: str
    max_new_tokens: int = 48

    def __call__(self, messages: list[dict]) -> str:
        from studio.engines import base, loader

        loaded = loader.load_model(self.model)
        settings = base.GenerationSettings(max_new_tokens=self.max_new_tokens, summary_tokens=self.max_new_tokens)
        return base.complete(loaded, messages, settings, system_prompt="")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m studio conversations", description=__doc__.split("\n")[0])
    parser.add_argument("file", help="Q/A file (.csv, .jsonl or .json)")
    parser.add_argument("--out", required=True, help="conversations JSONL to write")
    parser.add_argument("--pairs", type=int, default=3, help="Q/A pairs per conversation (default 3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--question-column")
    parser.add_argument("--answer-column")
    parser.add_argument("--model", help="a local model writes the small talk (e.g. bundled:qwen2.5-coder-0.5b-instruct)")
    args = parser.parse_args(argv)
    try:
        dataset = qa.load_file(args.file, args.question_column, args.answer_column)
    except files.DataError as e:
        print(e, file=sys.stderr)
        return 2
    if dataset.kind != "qa":
        print(f"{args.file} already holds conversations; give a Q/A file", file=sys.stderr)
        return 2
    complete = LocalChat(args.model) if args.model else openai_complete_from_env()
    try:
        conversations = make_conversations(dataset.records, args.pairs, args.seed, complete)
    except RuntimeError as e:
        print(e, file=sys.stderr)
        return 1
    out = save_conversations(conversations, args.out)
    writer = describe_writer(complete)
    print(f"wrote {len(conversations)} conversations from {len(dataset.records)} Q/A pairs to {out} "
          f"(small talk by {writer})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
