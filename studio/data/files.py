"""Reading Q/A files into rows, and writing CSV that is safe to open: the file-format layer under studio/data/qa.py.

read_rows() turns a .csv, .jsonl or .json file into (place, record) rows, where place names the row as a user finds
it ("row N", "line N", "record N"); problems with the file itself (size, encoding, syntax, nesting, repeated column
names) go into the error list or, when nothing can be read, raise DataError. Encodings: UTF-8 (with or without
Excel's byte-order mark) and UTF-16 (with a byte-order mark, or ASCII-heavy text without one).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from pathlib import Path

import pandas

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_ERRORS = 50
"""At most this many problems are listed; the rest are counted."""
SUFFIXES = (".csv", ".jsonl", ".json")


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


def read_rows(path: Path, errors: list[str]) -> list[tuple[str, dict]]:
    """The file's records as (place, record) rows; row-level problems are appended to `errors`."""
    text = _read_text(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _csv_rows(text, errors)
    rows = _jsonl_rows(text, errors) if suffix == ".jsonl" else _json_rows(text, errors)
    for where, record in rows:
        key_clashes(record, where, errors)
    return rows


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
    utf16 = _utf16_encoding(data)
    try:
        # -sig: Excel's "CSV UTF-8" starts with a byte-order mark
        text = data.decode(utf16 or "utf-8-sig")
    except UnicodeDecodeError as e:
        if utf16:
            fail(f"the file looks like UTF-16 text but byte offset {e.start} is not valid UTF-16; "
                 "re-save it as UTF-8, e.g. in Excel choose 'CSV UTF-8'")
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


def _utf16_encoding(data: bytes) -> str | None:
    """"utf-16" for a UTF-16 byte-order mark; "utf-16-le"/"-be" when every other byte is NUL (ASCII-heavy text
    without a mark); else None. UTF-8 text has no NUL bytes, so the guess cannot take a UTF-8 file."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    sample = data[:4096]
    even_nul, odd_nul, pairs = sample[0::2].count(0), sample[1::2].count(0), len(sample) // 2
    if pairs and odd_nul >= pairs / 3 and even_nul == 0:
        return "utf-16-le"
    if pairs and even_nul >= pairs / 3 and odd_nul == 0:
        return "utf-16-be"
    return None


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
        for clash in _clashes(header):
            places = ", ".join(f"{header[i]!r} (column {i + 1})" for i in clash)
            errors.append(f"row 1 (the header) names the same column {len(clash)} times: {places}; names may not "
                          "differ only in case or spaces. Rename or remove all but one")
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


def _clashes(names: list[str]) -> list[list[int]]:
    """Positions of names that are the same after stripping and case folding, one list per name used twice."""
    positions: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        if norm(name):  # blank headers (trailing empty spreadsheet columns) are ignored anyway
            positions.setdefault(norm(name), []).append(i)
    return [found for found in positions.values() if len(found) > 1]


class _Object(dict):
    """A JSON object that remembers its keys as written, repeats included (a plain dict keeps only the last)."""

    keys_as_written: list[str]


def _json_object(pairs: list[tuple[str, object]]) -> _Object:
    record = _Object(pairs)
    record.keys_as_written = [key for key, _ in pairs]
    return record


def key_clashes(record: dict, where: str, errors: list[str]) -> None:
    names = getattr(record, "keys_as_written", list(record))
    for clash in _clashes(names):
        keys = ", ".join(repr(names[i]) for i in clash)
        errors.append(f"{where} names the same field {len(clash)} times ({keys}); names may not differ only in "
                      "case or spaces. Keep one")


def _parse_json(text: str):
    """json.loads keeping repeated keys visible; RecursionError (absurdly deep nesting) is left to the caller."""
    return json.loads(text, object_pairs_hook=_json_object)


def _jsonl_rows(text: str, errors: list[str]) -> list[tuple[str, dict]]:
    rows = []
    for number, line in enumerate(text.split("\n"), 1):  # not splitlines(): U+2028 may sit inside a JSON string
        if not line.strip():
            continue
        try:
            record = _parse_json(line)
        except json.JSONDecodeError as e:
            errors.append(f"line {number}: not valid JSON ({e.msg} at column {e.colno})")
            continue
        except RecursionError:
            errors.append(f"line {number}: the JSON is nested too deeply to read; a record is one flat object")
            continue
        if not isinstance(record, dict):
            errors.append(f"line {number}: expected a JSON object {{...}}, found {json_type(record)}")
            continue
        rows.append((f"line {number}", record))
    return rows


def _json_rows(text: str, errors: list[str]) -> list[tuple[str, dict]]:
    try:
        data = _parse_json(text)
    except json.JSONDecodeError as e:
        hint = "; if the file has one JSON object per line, name it .jsonl" if e.msg == "Extra data" else ""
        errors.append(f"line {e.lineno}, column {e.colno}: not valid JSON ({e.msg}){hint}")
        return []
    except RecursionError:
        errors.append("the JSON is nested too deeply to read; expected a list of flat records [{...}, ...]")
        return []
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    if not isinstance(data, list):
        errors.append(f'expected a list of records [{{...}}, ...] or {{"data": [...]}}, found {json_type(data)}')
        return []
    rows = []
    for number, record in enumerate(data, 1):
        if isinstance(record, dict):
            rows.append((f"record {number}", record))
        else:
            errors.append(f"record {number}: expected a JSON object {{...}}, found {json_type(record)}")
    return rows


def json_type(value) -> str:
    for kind, name in ((dict, "an object"), (list, "a list"), (str, "a string")):
        if isinstance(value, kind):
            return name
    return type(value).__name__


def norm(name) -> str:
    return str(name).strip().casefold()


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A spreadsheet runs a cell that starts with one of these as a formula (CSV injection)."""


def csv_safe(value):
    """`value` made safe for a CSV a user will open in a spreadsheet: text starting with = + - @ (or a tab or
    carriage return) gets a leading ' so it shows as text instead of running as a formula. Numbers, and text that
    is just a number ("-0.5"), pass unchanged."""
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    try:
        float(value)
        return value
    except ValueError:
        return "'" + value


def csv_safe_frame(frame: pandas.DataFrame) -> pandas.DataFrame:
    """A copy of `frame` with csv_safe applied to every cell and column name, ready for .to_csv()."""
    safe = frame.map(csv_safe)
    safe.columns = [csv_safe(c) for c in frame.columns]
    return safe
