"""Read documents and Q/A files into chunks that remember where they came from. No index, no model here.

Documents are cut into blocks that share one location, then each block into chunks (`split_text`: the recursive
character splitting of studio/knowledge/chunking.py):
  PDF (pypdf)              page = 1-based page number; lines set larger than the body text are headings
  DOCX (python-docx)       Heading/Title paragraph styles start sections; tables are read in document order
  Markdown                 "#" headings (outside code fences) start sections
  HTML (beautifulsoup4)    h1-h6 start sections; head, script, style, noscript and template are dropped
  TXT                      one block
A chunk's `section` is its nearest heading; `heading_path` holds the headings above it ("4. Benefits > 4.2 ...").

Q/A files (.csv, .jsonl, .json, the formats the Training tab accepts, with the same column synonyms as
studio/data/qa.py) become one chunk per pair, "Q: ...\nA: ...", numbered as a user finds the pair: CSV "row N"
as a spreadsheet counts (header = row 1), JSONL "line N", JSON "record N". The knowledge layer sits below the data
layer, so this is a small reader of its own; conversation files (turn lists) are refused with a message.

Every problem raises DocumentError with a message a user can act on. Reading is bounded in time and memory by the
limits in studio/knowledge/document_limits.py; a file over one is refused with a message that names it.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

from studio.knowledge import chunking
from studio.knowledge import document_limits as limits
from studio.knowledge import pdf_reading

MAX_FILE_BYTES = 50 * 1024 * 1024
CHUNK_CHARS = 800
CHUNK_OVERLAP = 100
"""Chosen by measuring retrieval hit@1/hit@3 over the policy wording at 400 to 1200 characters (numbers in
studio/knowledge/store.py's docstring). 800 characters is about 180 MiniLM tokens, under its 256-token limit."""

DOCUMENT_SUFFIXES = (".pdf", ".docx", ".md", ".markdown", ".txt", ".html", ".htm")
QA_SUFFIXES = (".csv", ".jsonl", ".json")
SUFFIXES = DOCUMENT_SUFFIXES + QA_SUFFIXES
QUESTION_NAMES = ("question", "q", "prompt", "instruction", "query", "input")
"""Tried in this order; "instruction" comes before "input" because Alpaca files have both and input is context.
studio/data/qa.py reads Q/A files for training with the same names."""
ANSWER_NAMES = ("answer", "a", "response", "output", "reply", "completion")
TURNS_NAMES = ("turns", "messages", "conversations")


class DocumentError(Exception):
    """A file that cannot be read into passages; the message names the file and says why."""


@dataclass
class Chunk:
    text: str
    file: str
    """File name (no folder): what a citation shows."""
    page: int | None = None
    section: str = ""
    heading_path: str = ""
    row: int | None = None
    """Q/A pairs: the row/line/record number, see `row_kind`."""
    row_kind: str = ""
    """"row" (CSV), "line" (JSONL) or "record" (JSON)."""


@dataclass
class Block:
    text: str
    page: int | None = None
    headings: tuple[str, ...] = ()


def read_file(path: str | Path, chunk_chars: int = CHUNK_CHARS, chunk_overlap: int = CHUNK_OVERLAP) -> list[Chunk]:
    """Chunks of a document or Q/A file, each with its location; DocumentError when the file cannot be used."""
    path = Path(path)
    data = _read_bytes(path)
    suffix = path.suffix.lower()
    if suffix in QA_SUFFIXES:
        chunks = qa_chunks(_decode(data, path), path.name, suffix)
    else:
        blocks = {".pdf": _pdf_blocks, ".docx": _docx_blocks}.get(suffix)
        if blocks:
            found = blocks(data, path.name)
        elif suffix in (".html", ".htm"):
            found = _html_blocks(_decode(data, path), path.name)
        elif suffix in (".md", ".markdown"):
            found = _markdown_blocks(_decode(data, path))
        else:
            found = [Block(_decode(data, path))]
        chunks = split_blocks(found, path.name, chunk_chars, chunk_overlap)
    if not chunks:
        raise DocumentError(f"{path.name}: no text found in the file")
    if len(chunks) > limits.MAX_PASSAGES:
        raise DocumentError(f"{path.name}: {len(chunks):,} passages, over the limit of {limits.MAX_PASSAGES:,} for a "
                            "file (embedding takes minutes per thousand passages); split it into smaller files")
    return chunks


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise DocumentError(f"{path.name}: file not found")
    if path.suffix.lower() not in SUFFIXES:
        raise DocumentError(f"{path.name}: unsupported file type {path.suffix or '(none)'!r}; use PDF, DOCX, TXT, "
                            "Markdown or HTML documents, or a Q/A file (.csv, .jsonl, .json)")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise DocumentError(f"{path.name}: the file is {size / 1024 / 1024:.1f} MB, more than the limit of "
                            f"{MAX_FILE_BYTES // 1024 // 1024} MB; split it into smaller files")
    if size == 0:
        raise DocumentError(f"{path.name}: the file is empty (0 bytes)")
    return path.read_bytes()


def _decode(data: bytes, path: Path) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DocumentError(f"{path.name}: not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start}); "
                            "re-save it as UTF-8") from e
    if not text.strip():
        raise DocumentError(f"{path.name}: the file is empty (only whitespace)")
    _check_text(len(text), path.name)
    return text.replace("\r\n", "\n")


def _check_text(chars: int, name: str, where: str = "") -> None:
    if chars > limits.MAX_TEXT_CHARS:
        raise DocumentError(f"{name}: {chars:,} characters of text{where}, over the limit of "
                            f"{limits.MAX_TEXT_CHARS:,} for a file; split it into smaller files")


def split_blocks(blocks: list[Block], file: str, chunk_chars: int = CHUNK_CHARS,
                 chunk_overlap: int = CHUNK_OVERLAP) -> list[Chunk]:
    chunks = []
    for block in blocks:
        for piece in chunking.split_text(block.text, chunk_chars, chunk_overlap):
            if piece.strip():
                chunks.append(Chunk(piece.strip(), file, page=block.page,
                                    section=block.headings[-1] if block.headings else "",
                                    heading_path=" > ".join(block.headings)))
    return chunks


# ------------------------------------------------------------------------------------------------ documents


def _pdf_blocks(data: bytes, name: str) -> list[Block]:
    try:
        return _sectioned(pdf_reading.heading_lines(data))
    except pdf_reading.PdfProblem as e:
        raise DocumentError(f"{name}: {e}") from e


def _docx_blocks(data: bytes, name: str) -> list[Block]:
    import docx
    from docx.enum.style import WD_STYLE_TYPE
    from docx.table import Table

    try:
        if problem := limits.docx_problem(data):
            raise DocumentError(f"{name}: {problem}")
        document = docx.Document(io.BytesIO(data))
    except DocumentError:
        raise
    except Exception as e:  # python-docx raises zipfile, KeyError, lxml errors... on a damaged file
        raise DocumentError(f"{name}: not a readable DOCX file; it may be damaged, or another format renamed "
                            f"to .docx ({type(e).__name__})") from e

    # python-docx's Paragraph.style searches all the styles on every call (~0.7 ms among Word's ~160: 30 of the 35 s
    # a 700-page document took), so each style id is looked up once
    @functools.cache
    def style_name(style_id: str | None) -> str:
        style = document.part.get_style(style_id, WD_STYLE_TYPE.PARAGRAPH)
        return (style.name if style is not None else "") or ""

    lines: list[tuple[int, str]] = []  # (heading level or 0, text)
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            for row in item.rows:
                cells = list(dict.fromkeys(c.text.strip() for c in row.cells if c.text.strip()))
                if cells:
                    lines.append((0, " | ".join(cells)))
            continue
        text = item.text.strip()
        if not text:
            continue
        style = style_name(item._p.style)
        level = 0
        if style == "Title":
            level = 1
        elif match := re.fullmatch(r"Heading (\d)", style):
            level = int(match.group(1)) + 1
        lines.append((level, text))
    _check_text(sum(len(text) for _, text in lines), name)
    return _sectioned(lines)


def _markdown_blocks(text: str) -> list[Block]:
    lines, fenced = [], False
    for line in text.split("\n"):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        match = None if fenced else re.match(r"^(#{1,6})\s+(.+?)\s*#*\s*$", line)
        lines.append((len(match.group(1)), match.group(2).strip()) if match else (0, line))
    return _sectioned(lines)


_HEADING_MARK = "\x00"


def _html_blocks(text: str, name: str) -> list[Block]:
    from bs4 import BeautifulSoup

    if problem := limits.html_problem(text):
        raise DocumentError(f"{name}: {problem}")
    soup = BeautifulSoup(text, "html.parser")
    for tag in soup(["head", "script", "style", "noscript", "template"]):  # head: <title> repeats the h1
        tag.decompose()
    for heading in soup.find_all(re.compile(r"^h[1-6]$")):
        title = " ".join(heading.get_text(" ").split())
        heading.replace_with(f"\n{_HEADING_MARK}{heading.name[1]}{title}\n")
    lines = []
    for line in soup.get_text("\n").split("\n"):
        if line.startswith(_HEADING_MARK):
            lines.append((int(line[1]), line[2:]))
        elif line.strip():
            lines.append((0, " ".join(line.split())))
    return _sectioned(lines)


def _sectioned(lines: list[tuple]) -> list[Block]:
    """Lines (heading level or 0, text[, page]) -> one block per section body (and page), with the heading path
    above it; a section that runs onto the next page keeps its headings there."""
    blocks, path, body = [], [], []
    page = None

    def flush():
        if "\n".join(body).strip():
            blocks.append(Block("\n".join(body).strip(), page=page, headings=tuple(title for _, title in path)))
        body.clear()

    for level, line, *where in lines:
        if where and where[0] != page:
            flush()
            page = where[0]
        if level:
            flush()
            while path and path[-1][0] >= level:
                path.pop()
            path.append((level, line))
        else:
            body.append(line)
    flush()
    return blocks


# ------------------------------------------------------------------------------------------------ Q/A files


def qa_chunks(text: str, name: str, suffix: str) -> list[Chunk]:
    """One chunk per question/answer pair; rows with a blank question or answer are reported, not skipped."""
    rows, kind = _qa_rows(text, name, suffix)
    if not rows:
        raise DocumentError(f"{name}: no Q/A records found")
    columns = list(dict.fromkeys(key for _, record in rows for key in record))
    by_name = {}
    for column in columns:
        by_name.setdefault(str(column).strip().casefold(), column)
    if suffix != ".csv" and any(n in by_name for n in TURNS_NAMES):
        raise DocumentError(f"{name}: this is a conversation file (turn lists); a collection indexes Q/A pairs and "
                            "documents. Use a file with question and answer columns")
    question = next((by_name[n] for n in QUESTION_NAMES if n in by_name), None)
    answer = next((by_name[n] for n in ANSWER_NAMES if n in by_name), None)
    if question is None or answer is None:
        raise DocumentError(f"{name}: needs a question column ({', '.join(QUESTION_NAMES)}) and an answer column "
                            f"({', '.join(ANSWER_NAMES)}); the file has: {', '.join(map(str, columns))}")
    chunks, problems = [], []
    for number, record in rows:
        q, a = _cell(record.get(question)), _cell(record.get(answer))
        if not q or not a:
            problems.append(f"{kind} {number}: empty {'question' if not q else 'answer'}")
            continue
        chunks.append(Chunk(f"Q: {q}\nA: {a}", name, row=number, row_kind=kind))
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise DocumentError(f"{name}: " + "; ".join(problems[:5]) + more)
    return chunks


def _cell(value) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    return " ".join(value.split()) if isinstance(value, str) else ""


def _qa_rows(text: str, name: str, suffix: str) -> tuple[list[tuple[int, dict]], str]:
    if suffix == ".csv":
        first_line = text.split("\n", 1)[0]
        delimiter = "," if "," in first_line else next((d for d in ";\t" if d in first_line), ",")
        try:
            reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
            rows = [(number, row) for number, row in enumerate(reader, 2)
                    if any((cell or "").strip() for cell in row.values() if isinstance(cell, str))]
        except csv.Error as e:
            raise DocumentError(f"{name}: malformed CSV ({e})") from e
        return rows, "row"
    if suffix == ".jsonl":
        rows = []
        for number, line in enumerate(text.split("\n"), 1):
            if line.strip():
                record = _json(line, name, f"line {number}")
                if not isinstance(record, dict):
                    raise DocumentError(f"{name}: line {number} is not a JSON object")
                rows.append((number, record))
        return rows, "line"
    data = _json(text, name, "the file")
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise DocumentError(f'{name}: expected a list of objects [{{...}}, ...] or {{"data": [...]}}')
    return list(enumerate(data, 1)), "record"


def _json(text: str, name: str, where: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise DocumentError(f"{name}: {where} is not valid JSON ({e.msg}, line {e.lineno} column {e.colno})") from e
