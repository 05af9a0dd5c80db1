"""A Chat tab conversation as a file to keep: Markdown to read, JSON to process. Both hold every turn, each grounded
reply's verdict and numbered sources (with the sentence the answer used), and the settings it was held under."""

from __future__ import annotations

import dataclasses
import json
import re
import tempfile
import time
from pathlib import Path

from studio.memory import MemoryState
from studio.ui.chat_settings import chat_settings

FORMATS = ("markdown", "json")


def conversation_record(model: str, state: MemoryState | None, sources: dict | None, form: dict) -> dict:
    """The conversation as plain data: model, settings, and the messages, each reply with its check and sources."""
    config, settings, precision, knowledge = chat_settings(form)
    messages = []
    for i, message in enumerate((state or MemoryState()).messages):
        shown = {"role": message["role"], "content": message["content"]}
        passages = (sources or {}).get(i) or (sources or {}).get(str(i))  # keys are strings once sent as JSON
        if passages:
            shown["verdict"] = passages[0].get("verdict", "")
            shown["sources"] = [{"n": n, "citation": p["citation"], "used": p.get("used", []), "text": p["text"]}
                                for n, p in enumerate(passages, 1)]
        messages.append(shown)
    return {"model": model, "exported_at": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            "settings": {"memory": dataclasses.asdict(config), "generation": dataclasses.asdict(settings),
                         "precision": precision, "knowledge": dataclasses.asdict(knowledge)},
            "messages": messages}


def to_markdown(record: dict) -> str:
    knowledge = record["settings"]["knowledge"]
    grounded = (f"knowledge collection {knowledge['collection']} (answer style {knowledge['answer_style']})"
                if knowledge.get("collection") else "no knowledge collection")
    lines = [f"# Conversation with {record['model']}", "",
             f"Exported {record['exported_at']} · memory {record['settings']['memory']['kind']} · {grounded}", ""]
    for message in record["messages"]:
        who = "You" if message["role"] == "user" else "Assistant"
        lines += [f"**{who}:** {message['content']}", ""]
        if message.get("sources"):
            lines += [f"*Check:* {message['verdict']}", ""] if message.get("verdict") else []
            for source in message["sources"]:
                used = "".join(f" Used: “{sentence}”" for sentence in source["used"])
                lines.append(f"- [{source['n']}] {source['citation']}.{used}")
            lines.append("")
    return "\n".join(lines)


def export_conversation(kind: str, model: str, state: MemoryState | None, sources: dict | None, **form) -> str:
    """Write the conversation as `kind` (markdown or json) to a fresh temporary file; returns its path."""
    if kind not in FORMATS:
        raise ValueError(f"kind must be one of {', '.join(FORMATS)}, not {kind!r}")
    record = conversation_record(model, state, sources, form)
    slug = re.sub(r"[^A-Za-z0-9.]+", "-", model.split(":")[-1].split("/")[-1]).strip("-")[:40] or "model"
    name = f"conversation-{slug}-{time.strftime('%Y%m%d-%H%M%S')}.{'md' if kind == 'markdown' else 'json'}"
    path = Path(tempfile.mkdtemp(prefix="cqa-chat-")) / name
    text = to_markdown(record) if kind == "markdown" else json.dumps(record, indent=2, ensure_ascii=False)
    path.write_text(text, encoding="utf-8")
    return str(path)
