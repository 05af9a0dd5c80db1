"""Reading one file is bounded (studio/knowledge/document_limits.py): small generated bombs of each kind are refused
in a few seconds and little memory with a message that names the limit, and a file right at a limit still reads."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
import time
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from studio.knowledge import document_limits as limits
from studio.knowledge.documents import DocumentError, read_file
from tests.test_documents import ASSETS, DATA, make_docx

ROOT = Path(__file__).parent.parent
MB = 1024 * 1024
SECONDS = 5
PEAK_MB = 200
"""The bounds a refused bomb must stay within. Before the limits, 80 KB of DOCX (5.5 million empty paragraphs) took
95 s and 1.2 GB here."""


def deflated(piece: bytes, times: int) -> bytes:
    """`piece` repeated `times` times, deflated a piece at a time so that the whole is never in memory."""
    packer = zlib.compressobj(9)
    return b"".join(packer.compress(piece) for _ in range(times)) + packer.flush()


def write_docx(path: Path, body: Iterable[bytes] = (), extra: dict[str, Iterable[bytes]] | None = None) -> Path:
    """python-docx's blank document with `body` (pieces of XML) in its body and `extra` members added, each member
    written a piece at a time."""
    import docx

    blank = io.BytesIO()
    docx.Document().save(blank)
    with zipfile.ZipFile(blank) as source:
        members = {name: [source.read(name)] for name in source.namelist()}
    head, tail = members["word/document.xml"][0].split(b"<w:body>")
    members["word/document.xml"] = [head, b"<w:body>", *body, tail]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, pieces in {**members, **(extra or {})}.items():
            with archive.open(name, "w") as member:
                for piece in pieces:
                    member.write(piece)
    return path


def write_pdf(path: Path, content: bytes, form: bytes = b"") -> Path:
    """A one-page PDF whose content stream is `content` (deflated) and that can draw `form` (deflated too) as form
    XObject /X1; both write in Helvetica as /F1."""
    resources = b"<< /Font << /F1 3 0 R >> >>"
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [6 0 R] /Count 1 >>",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
               b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(content), content),
               b"<< /Type /XObject /Subtype /Form /BBox [0 0 595 842] /Resources %s /Length %d /Filter /FlateDecode >>"
               b"\nstream\n%s\nendstream" % (resources, len(form), form),
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
               b"/Resources << /Font << /F1 3 0 R >> /XObject << /X1 5 0 R >> >> >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(out)
    return path


def word_paragraphs(count: int) -> Iterator[bytes]:
    """Empty paragraphs as Word writes them, each with its own w14:paraId, 100,000 to a piece."""
    for start in range(0, count, 100_000):
        yield b"".join(b'<w:p w14:paraId="%08X"/>' % i for i in range(start, min(start + 100_000, count)))


def text_lines(count: int) -> bytes:
    """Drawing instructions for `count` lines of text, one under the other."""
    return b"BT /F1 12 Tf 72 800 Td " + b"(Some words on a line) Tj 0 -14 Td " * count + b"ET"


# ------------------------------------------------------------------------------------------------ bombs

BOMBS = {
    # 33 MB of XML in ~80 KB: the file of the issue
    "empty_paragraphs.docx": (lambda p: write_docx(p, [b"<w:p/>" * 174_763] * 32), "times its packed size"),
    # as Word writes them, each with its own id: only ~11 times smaller packed, so the element count stops it
    "word_paragraphs.docx": (lambda p: write_docx(p, word_paragraphs(1_100_000)),
                             "elements (paragraphs, runs, table cells...), over the limit of 1,000,000"),
    # the thumbnail is a part python-docx loads (it skips members nothing refers to): 200 MB of zeros in 200 KB
    "deflate_bomb.docx": (lambda p: write_docx(p, extra={"docProps/thumbnail.jpeg": [bytes(MB)] * 200}),
                          "docProps/thumbnail.jpeg unpacks to 200 MB"),
    "many_members.docx": (lambda p: write_docx(p, extra={f"customXml/item{i}.xml": [b"<a/>"] for i in range(2000)}),
                          "files (zip members), over the limit of 1,000"),
    # 200 MB of drawing instructions (blanks) in ~200 KB
    "huge_stream.pdf": (lambda p: write_pdf(p, deflated(b" " * MB, 200)), "Limit reached while decompressing"),
    "nested.html": (lambda p: p.write_bytes(b"<html><body>" + b"<div>" * 250_000 + b"deep" + b"</div>" * 250_000),
                    "more than 200,000 HTML tags"),
    # not small, but cutting it into passages would hold ~30 bytes of RAM per character
    "long.txt": (lambda p: p.write_bytes(b"word " * 2_000_000), "10,000,000 characters of text, over the limit"),
}


def read_in_child(path: Path) -> dict:
    """read_file in a fresh interpreter: the error message, the seconds it took and its peak RSS above what the
    interpreter held once the readers were imported."""
    code = textwrap.dedent("""
        import json, resource, sys, time
        import bs4, docx, pypdf  # the readers' imports are not the file's cost
        from studio.knowledge.documents import DocumentError, read_file
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start, error = time.perf_counter(), ""
        try:
            read_file(sys.argv[1])
        except DocumentError as e:
            error = str(e)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({"error": error, "seconds": time.perf_counter() - start, "peak_mb": (peak - base) / 1024}))
    """)
    done = subprocess.run([sys.executable, "-c", code, str(path)], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=True)
    return json.loads(done.stdout)


@pytest.mark.parametrize("name", BOMBS)
def test_bomb_is_refused_quickly_in_little_memory(name, tmp_path):
    make, message = BOMBS[name]
    path = tmp_path / name
    make(path)
    result = read_in_child(path)
    assert message in result["error"] and result["error"].startswith(f"{name}: ")
    assert result["seconds"] < SECONDS and result["peak_mb"] < PEAK_MB, result


# ------------------------------------------------------------------------------------------------ at a limit


def docx_elements(path: Path) -> int:
    """Elements of the DOCX's XML as lxml counts them."""
    from lxml import etree

    with zipfile.ZipFile(path) as archive:
        return sum(sum(1 for _ in etree.fromstring(archive.read(info)).iter(etree.Element))
                   for info in archive.infolist() if info.filename.endswith((".xml", ".rels")))


def docx_sizes(path: Path, xml_only: bool) -> int:
    with zipfile.ZipFile(path) as archive:
        return sum(i.file_size for i in archive.infolist() if not xml_only or i.filename.endswith((".xml", ".rels")))


def docx_members(path: Path) -> int:
    with zipfile.ZipFile(path) as archive:
        return len(archive.infolist())


def html_page(path: Path) -> Path:
    """A page of exactly 100 tags: html, body and 98 paragraphs."""
    path.write_text("<html><body>" + "".join(f"<p>Paragraph {i}.</p>" for i in range(98)) + "</body></html>")
    return path


def qa_file(path: Path) -> Path:
    """12 question/answer pairs: 12 passages."""
    path.write_text("question,answer\n" + "".join(f"Question {i}?,Answer {i}.\n" for i in range(12)))
    return path


AT_LIMIT = [  # limit, the file, its value for that limit, the message past it
    ("MAX_DOCX_ELEMENTS", lambda p: make_docx(p / "rules.docx"), docx_elements, "elements"),
    ("MAX_DOCX_XML_BYTES", lambda p: make_docx(p / "rules.docx"), lambda f: docx_sizes(f, True), "its XML unpacks"),
    ("MAX_DOCX_UNPACKED_BYTES", lambda p: make_docx(p / "rules.docx"), lambda f: docx_sizes(f, False),
     "its files unpack"),
    ("MAX_ZIP_MEMBERS", lambda p: make_docx(p / "rules.docx"), docx_members, "files (zip members)"),
    ("MAX_PDF_PAGES", lambda p: ASSETS / "policy_wording.pdf", lambda f: 10, "the PDF has 10 pages"),
    ("MAX_PDF_STREAM_BYTES", lambda p: write_pdf(p / "lines.pdf", zlib.compress(text_lines(100))),
     lambda f: len(text_lines(100)), "Limit reached while decompressing"),
    ("MAX_HTML_TAGS", lambda p: html_page(p / "page.html"), lambda f: 100, "more than 99 HTML tags"),
    ("MAX_TEXT_CHARS", lambda p: DATA / "notes.txt", lambda f: len(f.read_bytes().decode("utf-8-sig")),
     "characters of text"),
    ("MAX_PASSAGES", lambda p: qa_file(p / "qa.csv"), lambda f: 12, "12 passages, over the limit of 11"),
]


@pytest.mark.parametrize("limit, make, value, message", AT_LIMIT, ids=[row[0] for row in AT_LIMIT])
def test_file_at_a_limit_reads_and_one_past_it_is_refused(limit, make, value, message, tmp_path, monkeypatch):
    path = make(tmp_path)
    monkeypatch.setattr(limits, limit, value(path))
    assert read_file(path)
    monkeypatch.setattr(limits, limit, value(path) - 1)
    with pytest.raises(DocumentError) as error:
        read_file(path)
    assert message in str(error.value) and "limit" in str(error.value) and path.name in str(error.value)


def test_the_bundled_documents_and_qa_files_are_within_the_limits():
    for path in [*ASSETS.glob("*.csv"), ASSETS / "policy_wording.pdf", ASSETS / "policy_wording.md"]:
        assert read_file(path), path


def test_deeply_nested_html_within_the_tag_limit_reads_without_recursion(tmp_path):
    depth = 20_000  # twenty times Python's recursion limit; BeautifulSoup 4.13+ walks the tree without recursing
    path = tmp_path / "deep.html"
    path.write_text("<div>" * depth + "<h2>Deep</h2><p>At the bottom.</p>" + "</div>" * depth)
    assert [(c.section, c.text) for c in read_file(path)] == [("Deep", "At the bottom.")]


# ------------------------------------------------------------------------------------------------ PDF time


SLOW = [  # limit, seconds, the PDF, the message
    ("MAX_PDF_PAGE_SECONDS", 0, lambda p: write_pdf(p, zlib.compress(text_lines(100))), "page 1 of 1 went past"),
    # the lines are drawn inside a form XObject, where pypdf logs and skips errors (the timeout included): reading
    # it takes seconds, so the limit is passed there and must still stop the page
    ("MAX_PDF_PAGE_SECONDS", 0.5, lambda p: write_pdf(p, zlib.compress(b"/X1 Do"), zlib.compress(text_lines(40_000))),
     "page 1 of 1 went past"),
    ("MAX_PDF_SECONDS", 0, lambda p: ASSETS / "policy_wording.pdf", "page 1 of 10 went past"),
]


@pytest.mark.parametrize("limit, seconds, make, message", SLOW, ids=["page", "page_in_form", "file"])
def test_pdf_reading_stops_at_its_time_limits(limit, seconds, make, message, tmp_path, monkeypatch):
    path = make(tmp_path / "slow.pdf")
    monkeypatch.setattr(limits, limit, seconds)
    start = time.perf_counter()
    with pytest.raises(DocumentError, match="time limits for reading a PDF") as error:
        read_file(path)
    assert message in str(error.value) and time.perf_counter() - start < SECONDS


def test_pdf_page_of_too_many_drawing_instructions_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_PDF_PAGE_INSTRUCTIONS", 10_000)
    with pytest.raises(DocumentError, match=r"tokens per stream.*10,000 drawing instructions a page"):
        read_file(write_pdf(tmp_path / "busy.pdf", zlib.compress(text_lines(5_000))))
    assert read_file(write_pdf(tmp_path / "calm.pdf", zlib.compress(text_lines(500))))
