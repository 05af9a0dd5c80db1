"""Load and validate Q/A and conversation files, register them, split them, and turn them into examples.

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
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas

DATASETS_DIR = Path(os.environ.get("CQA_DATA_DIR", "data"))
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_FIELD_CHARS = 4000
MAX_ERRORS = 50
"""At most this many problems are listed; the rest are counted."""

SUFFIXES = (".csv", ".jsonl", ".json")
QUESTION_NAMES = ("question", "q", "prompt", "instruction", "query", "input")
"""Tried in this order; "instruction" comes before "input" because Alpaca files have both and input is context."""
ANSWER_NAMES = ("answer", "a", "response", "output", "reply", "completion")
TURNS_NAMES = ("turns", "messages", "conversations")
ROLES = {"user": "user", "human": "user", "assistant": "assistant", "gpt": "assistant", "bot": "assistant",
         "agent": "assistant", "model": "assistant"}


class DataError(Exception):
    """Raised with every problem found, each row-numbered and readable: `errors: list[str]`; str(e) joins them."""

    def __init__(self, errors: list[str], source: str = ""):
        super().__init__(errors, source)
        self.total = len(errors)
        self.errors = list(errors[:MAX_ERRORS])
        if self.total > MAX_ERRORS:
            self.errors.append(f"... and {self.total - MAX_ERRORS} more")
        self.source = source

    def __str__(self) -> str:
        head = f"{self.source}: " if self.source else ""
        if self.total == 1:
            return head + self.errors[0]
        return f"{head}{self.total} problems\n" + "\n".join(f"- {e}" for e in self.errors)


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


def load_file(path, question_column: str | None = None, answer_column: str | None = None) -> Dataset:
    """Read and validate a Q/A or conversation file; raise DataError listing every problem (see module docstring)."""
    path = Path(path)
    text = _read_text(path)
    suffix = path.suffix.lower()
    errors: list[str] = []
    if suffix == ".csv":
        rows = _csv_rows(text, errors)
    elif suffix == ".jsonl":
        rows = _jsonl_rows(text, errors)
    else:
        rows = _json_rows(text, errors)
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


def _read_text(path: Path) -> str:
    def fail(message):
        raise DataError([message], path.name)

    if not path.is_file():
        fail(f"file not found: {path}")
    if path.suffix.lower() not in SUFFIXES:
        fail(f"unsupported file type {path.suffix or '(none)'!r}; use .csv, .jsonl or .json")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        fail(f"the file is {_size(size)}, more than the limit of {_size(MAX_FILE_BYTES)}; split it into smaller files")
    if size == 0:
        fail("the file is empty (0 bytes)")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")  # -sig: Excel's "CSV UTF-8" starts with a byte-order mark
    except UnicodeDecodeError:
        places, offset = [], 0
        for number, line in enumerate(data.split(b"\n"), 1):  # a UTF-8 sequence never contains a newline byte
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as e:
                places.append(f"line {number} (byte 0x{line[e.start]:02x} at byte offset {offset + e.start})")
            offset += len(line) + 1
        more = f" and {len(places) - 10} more lines" if len(places) > 10 else ""
        fail(f"the file is not UTF-8 text (perhaps Latin-1 or Windows-1252): {', '.join(places[:10])}{more}. "
             "Re-save it as UTF-8, e.g. in Excel choose 'CSV UTF-8'")
    if not text.strip():
        fail("the file is empty (only whitespace)")
    return text


def _size(n: int) -> str:
    return f"{n:,} bytes" if n < 1024 * 1024 else f"{n / 1024 / 1024:.1f} MB"


def _csv_rows(text: str, errors: list[str]) -> list[tuple[str, dict]]:
    first_line = text.split("\n", 1)[0]
    delimiter = ","
    if "," not in first_line:
        delimiter = next((d for d in ";\t" if d in first_line), ",")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows = []
    row, row_start = 0, 1  # spreadsheet numbering: one row per CSV record (a quoted cell may span lines)
    try:
        header = [cell.strip() for cell in next(reader)]
        row = 1
        while True:
            row_start = reader.line_num + 1
            cells = next(reader, None)
            if cells is None:
                break
            row += 1
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) > len(header):
                errors.append(f"row {row} has {len(cells)} cells but the header has {len(header)}; "
                              "put cells that contain commas in double quotes")
                continue
            rows.append((f"row {row}", dict(zip(header, cells))))
    except csv.Error as e:
        hint = ""
        if "end of data" in str(e):
            hint = "; a double quote is probably not closed"
        elif "expected after" in str(e):
            hint = '; a double quote inside a quoted cell must be written twice ("")'
        errors.append(f"row {row + 1} (starting on line {row_start} of the file): malformed CSV: {e}{hint}")
    return rows


def _jsonl_rows(text: str, errors: list[str]) -> list[tuple[str, dict]]:
    rows = []
    for number, line in enumerate(text.split("\n"), 1):  # not splitlines(): U+2028 may sit inside a JSON string
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            errors.append(f"line {number}: not valid JSON ({e.msg} at column {e.colno})")
            continue
        if not isinstance(record, dict):
            errors.append(f"line {number}: expected a JSON object {{...}}, found {_json_type(record)}")
            continue
        rows.append((f"line {number}", record))
    return rows


def _json_rows(text: str, errors: list[str]) -> list[tuple[str, dict]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        hint = "; if the file has one JSON object per line, name it .jsonl" if e.msg == "Extra data" else ""
        errors.append(f"line {e.lineno}, column {e.colno}: not valid JSON ({e.msg}){hint}")
        return []
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    if not isinstance(data, list):
        errors.append(f'expected a list of records [{{...}}, ...] or {{"data": [...]}}, found {_json_type(data)}')
        return []
    rows = []
    for number, record in enumerate(data, 1):
        if isinstance(record, dict):
            rows.append((f"record {number}", record))
        else:
            errors.append(f"record {number}: expected a JSON object {{...}}, found {_json_type(record)}")
    return rows


def _json_type(value) -> str:
    return {dict: "an object", list: "a list", str: "a string"}.get(type(value), type(value).__name__)


def _norm(name) -> str:
    return str(name).strip().casefold()


def _text(value, where: str, field: str, errors: list[str]) -> str:
    """A cell or JSON value as stripped text, checked; reports "empty" and "too long" itself. Numbers are accepted."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if value is not None and not isinstance(value, str):
        errors.append(f"{where}: {field} is {_json_type(value)}, expected text")
        return ""
    text = (value or "").replace("\r\n", "\n").strip()
    if not text:
        errors.append(f"{where}: empty {field}")
    elif len(text) > MAX_FIELD_CHARS:
        errors.append(f"{where}: {field} has {len(text):,} characters, the limit is {MAX_FIELD_CHARS:,}")
    return text


def _qa_records(rows, question_column, answer_column, errors: list[str]) -> list[dict]:
    columns = list(dict.fromkeys(key for _, record in rows for key in record))
    by_name = {}
    for column in columns:
        by_name.setdefault(_norm(column), column)
    found, missing = {}, []
    for role, explicit, synonyms in (("question", question_column, QUESTION_NAMES),
                                     ("answer", answer_column, ANSWER_NAMES)):
        if explicit is not None:
            if _norm(explicit) in by_name:
                found[role] = by_name[_norm(explicit)]
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
    return next((key for key in record if _norm(key) in TURNS_NAMES), None)


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
                          f"found {_json_type(item)}")
            continue
        fields = {_norm(k): v for k, v in item.items()}
        if "role" in fields or "from" in fields:  # {"role", "content"} or ShareGPT's {"from", "value"}
            role_name = fields.get("role", fields.get("from"))
            if _norm(role_name) == "system":
                continue
            role = ROLES.get(_norm(role_name))
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


# ---------------------------------------------------------------- the registry of datasets


def register(path, name: str | None = None, question_column=None, answer_column=None,
             datasets_dir: Path | None = None) -> Path:
    """Validate `path`, then save it as <datasets_dir>/<name>.jsonl + <name>.meta.json; return the .jsonl path.

    Nothing is written when the file has a problem, so a dataset already registered under that name survives.
    """
    dataset = load_file(path, question_column, answer_column)
    name = _safe_name(name or Path(path).stem)
    folder = Path(datasets_dir or DATASETS_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    data_path = folder / f"{name}.jsonl"
    meta = {"name": name, "kind": dataset.kind, "rows": len(dataset.records), "source": dataset.source,
            "registered_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    _write_atomic(data_path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in dataset.records))
    _write_atomic(folder / f"{name}.meta.json", json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    return data_path


def load_registered(name: str, datasets_dir: Path | None = None) -> Dataset:
    folder = Path(datasets_dir or DATASETS_DIR)
    name = _safe_name(name)
    data_path = folder / f"{name}.jsonl"
    if not data_path.is_file():
        known = ", ".join(d["name"] for d in list_registered(folder)) or "none"
        raise DataError([f"no dataset named {name!r} is registered in {folder} (registered: {known})"])
    meta_path = folder / f"{name}.meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    lines = data_path.read_text(encoding="utf-8").split("\n")
    records = [json.loads(line) for line in lines if line.strip()]
    kind = meta.get("kind") or ("conversations" if records and "turns" in records[0] else "qa")
    return Dataset(name=name, kind=kind, records=records, source=meta.get("source", data_path.name))


def list_registered(datasets_dir: Path | None = None) -> list[dict]:
    """[{"name", "kind", "rows", "source", "path", "registered_at"}] sorted by name; unreadable entries are skipped."""
    folder = Path(datasets_dir or DATASETS_DIR)
    found = []
    for meta_path in sorted(folder.glob("*.meta.json")):
        name = meta_path.name[: -len(".meta.json")]
        data_path = folder / f"{name}.jsonl"
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if data_path.is_file():
            found.append({"name": name, "kind": meta.get("kind"), "rows": meta.get("rows"),
                          "source": meta.get("source"), "path": str(data_path),
                          "registered_at": meta.get("registered_at")})
    return found


def _safe_name(name: str) -> str:
    safe = re.sub(r"[^a-z0-9_-]+", "_", str(name).lower()).strip("_-")
    if not safe:
        raise DataError([f"cannot make a dataset name from {name!r}; give a name with letters a-z, digits, _ or -"])
    return safe


def _write_atomic(path: Path, text: str) -> None:
    # A temp file in the same folder + os.replace: readers see the old file or the new one, never half of one.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
