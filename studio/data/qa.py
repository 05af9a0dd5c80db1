"""Load and validate Q/A and conversation files, split them, and turn them into examples (the registry of added
datasets is studio/data/registry.py).

Formats: .csv (UTF-8, header row; ';' or tab separators are detected), .jsonl (one JSON object per line) and
.json (a list of objects, or {"data": [...]}). A record is either
  a Q/A pair     columns matched case-insensitively, with synonyms (question/q/prompt/..., answer/a/response/...)
                 or named with question_column= / answer_column=; other columns are ignored, except that a
                 "topic" column is kept (make_conversations groups pairs by it)
  a conversation a "turns", "messages" or "conversations" list of {"role", "content"} turns, ShareGPT
                 {"from", "value"} turns, or {"user": ..., "assistant": ...} exchanges (JSON formats only)

Every problem in a file is collected and raised together as one DataError. Places are named as a user finds them:
  CSV    "row N" as a spreadsheet numbers it: the header is row 1, so the first data row is row 2
  JSONL  "line N" of the file
  JSON   "record N" of the list, counting from 1 (syntax errors: "line N, column M")
Rows whose cells are all blank (a common spreadsheet leftover) are skipped. Consecutive turns of the same role in
a conversation are joined into one turn, and "system" turns are dropped: examples alternate user/assistant.
Refused with a message rather than guessed: two columns (or JSON keys) whose names differ only in case or spaces,
JSON nested too deeply to read, NaN/Infinity where text is expected. UTF-16 files (Excel's "Unicode text") are
read as such, with or without a byte-order mark.
"""

from __future__ import annotations

import json
import math
import random
import re
from dataclasses import dataclass
from pathlib import Path

import pandas

from studio.core import paths
from studio.data.files import (
    DataError,
    json_type,
    key_clashes,
    norm,
    read_rows,
)
from studio.knowledge.documents import ANSWER_NAMES, QUESTION_NAMES, TURNS_NAMES

MAX_FIELD_CHARS = 4000
NON_FINITE = re.compile(r"[+-]?(nan|inf|infinity)", re.IGNORECASE)
"""A whole cell like this is a number gone wrong (a missing value exported by pandas), never a question or answer."""
# The column names a Q/A file may use are the knowledge collections' too: one definition, in studio/knowledge/documents.py.
ROLES = {"user": "user", "human": "user", "assistant": "assistant", "gpt": "assistant", "bot": "assistant",
         "agent": "assistant", "model": "assistant"}


@dataclass
class Example:
    messages: list[dict]
    """Prompt turns [{"role": "user"|"assistant", "content": str}, ...]; the last one is the user's."""
    answer: str
    """The target reply the model must learn."""


@dataclass
class Dataset:
    name: str
    kind: str
    """"qa" or "conversations"."""
    records: list[dict]
    """qa: {"question", "answer"} (+ "topic" when the file has one); conversations: {"turns": [{"role", "content"}]}."""
    source: str
    """Original file name."""


# ---------------------------------------------------------------- loading


DATASET_NAME = re.compile(r"[A-Za-z0-9_-]+")


def data_file(value: str | Path) -> Path:
    """The file a dataset value names: a file; "assets/<file>", a shipped sample wherever the app was started from;
    or a registered dataset's name, its file in the data folder (the workspace's, on a shared app). Pages offer the
    last two, so that no server path is shown to a visitor."""
    path = Path(value)
    if path.exists() or not str(value).strip():
        return path
    if path.parts[:1] == ("assets",):
        return paths.PROJECT_ROOT / path
    if DATASET_NAME.fullmatch(str(value)):
        return paths.data_dir() / f"{value}.jsonl"
    return path


def load_file(path, question_column: str | None = None, answer_column: str | None = None) -> Dataset:
    """Read and validate a Q/A or conversation file (or what data_file finds for a value); raise DataError listing
    every problem (see module docstring)."""
    path = data_file(path)
    suffix = path.suffix.lower()
    errors: list[str] = []
    rows = read_rows(path, errors)
    if not rows:
        if not errors:
            errors.append("the file has a header but no data rows" if suffix == ".csv" else "the file has no records")
        raise DataError(errors, path.name)

    explicit = question_column is not None or answer_column is not None
    if suffix != ".csv" and not explicit and _turns_key(rows[0][1]):
        kind, records = "conversations", _conversation_records(rows, errors)
    else:
        kind, records = "qa", _qa_records(rows, question_column, answer_column, errors)
    if errors:
        raise DataError(errors, path.name)
    return Dataset(name=path.stem, kind=kind, records=records, source=path.name)


def _text(value, where: str, field: str, errors: list[str]) -> str:
    """A cell or JSON value as stripped text, checked; reports "empty" and "too long" itself. Numbers are accepted."""
    if isinstance(value, float) and not math.isfinite(value):
        errors.append(f"{where}: {field} is {value} (a JSON NaN or Infinity), expected text")
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if value is not None and not isinstance(value, str):
        errors.append(f"{where}: {field} is {json_type(value)}, expected text")
        return ""
    text = (value or "").replace("\r\n", "\n").strip()
    if NON_FINITE.fullmatch(text):
        errors.append(f"{where}: {field} is {text!r}, how spreadsheets and pandas write a missing or broken number "
                      "(NaN/Infinity), expected text; fill it in or remove the row")
    elif not text:
        errors.append(f"{where}: empty {field}")
    elif len(text) > MAX_FIELD_CHARS:
        errors.append(f"{where}: {field} has {len(text):,} characters, the limit is {MAX_FIELD_CHARS:,}")
    return text


def _qa_records(rows, question_column, answer_column, errors: list[str]) -> list[dict]:
    columns = list(dict.fromkeys(key for _, record in rows for key in record))
    by_name = {}
    for column in columns:
        by_name.setdefault(norm(column), column)
    found, missing = {}, []
    for role, explicit, synonyms in (("question", question_column, QUESTION_NAMES),
                                     ("answer", answer_column, ANSWER_NAMES)):
        if explicit is not None:
            if norm(explicit) in by_name:
                found[role] = by_name[norm(explicit)]
            else:
                errors.append(f"{role} column {explicit!r} not found; the file has columns: {', '.join(columns)}")
        else:
            name = next((n for n in synonyms if n in by_name), None)
            if name is None:
                missing.append(role)
            else:
                found[role] = by_name[name]
    if missing:
        looked_for = " / ".join(", ".join(names) for role, names in (("question", QUESTION_NAMES),
                                ("answer", ANSWER_NAMES)) if role in missing)
        errors.append(f"no {' and no '.join(m + ' column' for m in missing)} found (looked for {looked_for}); "
                      f"the file has columns: {', '.join(columns)}. Rename the columns, or say which to use: "
                      "question_column='...', answer_column='...'")
    if len(found) < 2:
        return []
    if found["question"] == found["answer"]:
        errors.append(f"the same column {found['question']!r} is used for both question and answer")
        return []
    topic_column = by_name.get("topic")

    records, seen = [], {}
    for where, row in rows:
        question = _text(row.get(found["question"]), where, "question", errors)
        answer = _text(row.get(found["answer"]), where, "answer", errors)
        if question:
            key = " ".join(question.casefold().split())
            if key in seen:
                first_where, first_answer = seen[key]
                same = "the same answer too" if answer == first_answer else "a different answer"
                errors.append(f"{where} repeats the question of {first_where} ({same}); keep one of them")
            else:
                seen[key] = (where, answer)
        record = {"question": question, "answer": answer}
        if topic_column is not None and isinstance(row.get(topic_column), str) and row[topic_column].strip():
            record["topic"] = row[topic_column].strip()
        records.append(record)
    return records


def _turns_key(record: dict) -> str | None:
    return next((key for key in record if norm(key) in TURNS_NAMES), None)


def _conversation_records(rows, errors: list[str]) -> list[dict]:
    records, seen = [], {}
    for where, record in rows:
        turns = _turns(record, where, errors)
        if turns is None:
            continue
        key = json.dumps(turns)
        if key in seen:
            errors.append(f"{where} repeats the conversation of {seen[key]}; keep one of them")
        seen.setdefault(key, where)
        records.append({"turns": turns})
    return records


def _turns(record: dict, where: str, errors: list[str]) -> list[dict] | None:
    key = _turns_key(record)
    items = record.get(key) if key else None
    if not isinstance(items, list) or not items:
        errors.append(f"{where}: needs a non-empty list of turns under \"turns\" or \"messages\"")
        return None
    turns: list[dict] = []
    errors_before = len(errors)
    for number, item in enumerate(items, 1):
        at = f"{where}, turn {number}"
        if not isinstance(item, dict):
            errors.append(f"{at}: expected an object like {{\"role\": \"user\", \"content\": \"...\"}}, "
                          f"found {json_type(item)}")
            continue
        clashes = len(errors)
        key_clashes(item, at, errors)
        if len(errors) > clashes:
            continue
        fields = {norm(k): v for k, v in item.items()}
        if "role" in fields or "from" in fields:  # {"role", "content"} or ShareGPT's {"from", "value"}
            role_name = fields.get("role", fields.get("from"))
            if norm(role_name) == "system":
                continue
            role = ROLES.get(norm(role_name))
            if role is None:
                errors.append(f"{at}: unknown role {role_name!r}; use user or assistant")
                continue
            pieces = [(role, fields.get("content", fields.get("value")))]
        else:  # an exchange {"user": ..., "assistant": ...}
            pieces = sorted(((ROLES[k], v) for k, v in fields.items() if k in ROLES), key=lambda p: p[0] != "user")
            if not pieces:
                errors.append(f"{at}: expected {{\"role\", \"content\"}} or {{\"user\", \"assistant\"}}, "
                              f"found keys {', '.join(map(str, item))}")
                continue
        for role, value in pieces:
            content = _text(value, at, f"{role} turn", errors)
            if not content:
                continue
            if turns and turns[-1]["role"] == role:
                turns[-1]["content"] += "\n" + content
            else:
                turns.append({"role": role, "content": content})
    roles = [t["role"] for t in turns]
    if len(errors) == errors_before and not any(a == "user" and b == "assistant" for a, b in zip(roles, roles[1:])):
        errors.append(f"{where}: needs at least one user turn followed by an assistant reply")
    return turns


def preview(dataset: Dataset, rows: int = 20) -> pandas.DataFrame:
    """The first `rows` records as a table: question/answer, or turns/conversation ("role: content" lines)."""
    records = dataset.records[:rows]
    if dataset.kind == "conversations":
        table = [{"turns": len(r["turns"]),
                  "conversation": "\n".join(f"{t['role']}: {t['content']}" for t in r["turns"])} for r in records]
        return pandas.DataFrame(table, columns=["turns", "conversation"])
    return pandas.DataFrame([{"question": r["question"], "answer": r["answer"]} for r in records],
                            columns=["question", "answer"])


# ---------------------------------------------------------------- splits and subsets


def split(records: list, val_fraction: float = 0.1, seed: int = 0) -> tuple[list, list]:
    """(train, validation): a seeded random `val_fraction` (rounded, at least 1 of >= 2 records) goes to validation.

    val_fraction=0 keeps everything for training. Both parts keep the records' original order.
    """
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be at least 0 and below 1, got {val_fraction}")
    n = len(records)
    n_val = int(n * val_fraction + 0.5)
    if val_fraction > 0 and n >= 2:
        n_val = min(max(n_val, 1), n - 1)
    order = list(range(n))
    random.Random(seed).shuffle(order)
    val_index = set(order[:n_val])
    return ([r for i, r in enumerate(records) if i not in val_index],
            [r for i, r in enumerate(records) if i in val_index])


def subset(records: list, size: int | float, seed: int = 0) -> list:
    """A seeded random subset: an int is a count (200), a float in (0, 1] a fraction (0.5 -> half, at least 1).

    Subsets with the same seed are nested: the 200 records are among the 400, so size experiments add data only.
    The records keep their original order.
    """
    n = len(records)
    if isinstance(size, bool) or not isinstance(size, (int, float)):
        raise ValueError(f"subset size must be a count (int) or a fraction (float), got {size!r}")
    if isinstance(size, float):
        if not 0 < size <= 1:
            raise ValueError(f"a subset fraction must be in (0, 1], got {size}")
        count = max(1, int(n * size + 0.5)) if n else 0
    else:
        count = size
    if count < 1:
        raise ValueError(f"subset size must be at least 1, got {size}")
    if count > n:
        raise ValueError(f"asked for {count} records but the dataset has only {n}")
    order = list(range(n))
    random.Random(seed).shuffle(order)  # the same permutation for every size: that is what nests them
    chosen = set(order[:count])
    return [r for i, r in enumerate(records) if i in chosen]


# ---------------------------------------------------------------- examples for training


def qa_examples(records) -> list[Example]:
    """One Example per Q/A pair: messages = [the question as a user turn], answer = the answer."""
    return [Example(messages=[{"role": "user", "content": r["question"]}], answer=r["answer"]) for r in records]


def dialogue_examples(conversations, n_previous: int = 7) -> list[Example]:
    """One Example per assistant turn that answers a user turn: up to `n_previous` earlier turns (user and assistant
    both count) + that user turn, with the assistant turn as the answer. A window never starts with an assistant turn.

    `conversations` are {"turns": [...]} records or plain lists of turns.
    """
    if n_previous < 0:
        raise ValueError(f"n_previous must be 0 or more, got {n_previous}")
    examples = []
    for conversation in conversations:
        turns = conversation["turns"] if isinstance(conversation, dict) else conversation
        for i in range(1, len(turns)):
            if turns[i]["role"] != "assistant" or turns[i - 1]["role"] != "user":
                continue
            window = turns[max(0, i - 1 - n_previous): i]
            while window[0]["role"] != "user":
                window = window[1:]
            messages = [{"role": t["role"], "content": t["content"]} for t in window]
            examples.append(Example(messages=messages, answer=turns[i]["content"]))
    return examples
