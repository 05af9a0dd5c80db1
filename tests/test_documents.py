"""Parsing documents and Q/A files into located chunks; every kind of bad input gets a clear message."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from studio.knowledge import chunking, documents
from studio.knowledge.documents import DocumentError, read_file

DATA = Path(__file__).parent / "data" / "knowledge"
ASSETS = Path(__file__).parent.parent / "assets"


def make_docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.add_heading("Club rules", level=0)
    document.add_heading("Kit", level=1)
    document.add_paragraph("Members wear the blue club jersey on Sunday rides.")
    document.add_heading("Lockers", level=2)
    document.add_paragraph("Lockers cost 300 rupees a year.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Locker size", "Price"
    table.cell(1, 0).text, table.cell(1, 1).text = "Large", "500 rupees"
    document.save(path)
    return path


def make_encrypted_pdf(path: Path) -> Path:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(ASSETS / "policy_wording.pdf"))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    writer.write(path)
    return path


def make_image_only_pdf(path: Path) -> Path:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)  # a page with no text layer, like a scan without OCR
    writer.add_blank_page(width=595, height=842)
    writer.write(path)
    return path


def find(chunks, text):
    return next(c for c in chunks if text in c.text)


def test_markdown_sections_follow_the_nearest_heading():
    chunks = read_file(DATA / "handbook.md")
    fees = find(chunks, "1,200 rupees")
    assert (fees.section, fees.heading_path) == ("1.1 Fees", "Lakeside Cycling Club Handbook > 1. Membership > 1.1 Fees")
    safety = find(chunks, "Helmets are compulsory")
    assert safety.section == "2.2 Safety"
    assert "# not a heading" in safety.text  # a "#" line inside a code fence is text, not a heading
    assert find(chunks, "inner tubes").heading_path == "Lakeside Cycling Club Handbook > 3. Repairs"
    assert all(c.file == "handbook.md" and c.page is None and c.row is None for c in chunks)


def test_html_headings_are_sections_and_scripts_are_dropped():
    chunks = read_file(DATA / "club_page.html")
    text = "\n".join(c.text for c in chunks)
    assert "tracking code" not in text and "color: red" not in text
    assert len(chunks) == 3  # the <title> is not a passage of its own
    assert find(chunks, "front and rear lights").section == "Night rides"
    assert find(chunks, "Meena Iyer").heading_path == "Club news > Awards"


def test_docx_heading_styles_are_sections_and_tables_are_read(tmp_path):
    chunks = read_file(make_docx(tmp_path / "rules.docx"))
    assert find(chunks, "blue club jersey").heading_path == "Club rules > Kit"
    lockers = find(chunks, "300 rupees")
    assert lockers.section == "Lockers"
    assert "Large | 500 rupees" in lockers.text


def test_pdf_chunks_carry_their_page_number_and_the_headings_set_in_larger_type():
    chunks = read_file(ASSETS / "policy_wording.pdf")
    assert {c.page for c in chunks} == set(range(1, 11))
    specific = find(chunks, "covered only after 24 months of continuous cover")
    assert (specific.page, specific.section) == (5, "5.2 Specific illnesses and procedures")
    assert specific.heading_path.endswith("5. Waiting Periods > 5.2 Specific illnesses and procedures")
    assert "5.2 Specific" not in specific.text  # the heading labels the passage, it is not its text
    # the wrapped two-line title is one heading; the definitions run onto page 2 and keep their section there
    insured = find(chunks, "A person named in the policy schedule as covered")
    assert (insured.page, insured.section) == (2, "2. Definitions")
    assert insured.heading_path == "Nilgiri Health Insurance Ltd.: Family Health Shield Policy Wording > 2. Definitions"


def test_pdf_in_one_type_size_has_no_headings(tmp_path):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    for text in ("Opening hours", "The workshop opens at 9 AM.", "Prices", "A tune-up costs 500 rupees."):
        pdf.add_page()
        pdf.multi_cell(0, 6, text)
    pdf.output(str(tmp_path / "flat.pdf"))
    chunks = read_file(tmp_path / "flat.pdf")
    assert [(c.page, c.section, c.text) for c in chunks] == [
        (1, "", "Opening hours"), (2, "", "The workshop opens at 9 AM."), (3, "", "Prices"),
        (4, "", "A tune-up costs 500 rupees.")]


def test_text_file_is_one_block():
    chunks = read_file(DATA / "notes.txt")
    assert len(chunks) == 1 and "Lake Road branch" in chunks[0].text and chunks[0].section == ""


def test_long_text_is_split_below_the_chunk_size(tmp_path):
    path = tmp_path / "long.txt"
    path.write_text(" ".join(f"Sentence number {i} about the club." for i in range(400)))
    chunks = read_file(path, chunk_chars=300, chunk_overlap=30)
    assert len(chunks) > 10 and max(len(c.text) for c in chunks) <= 300


@pytest.mark.parametrize("name, row_kind, rows, first", [
    ("club_faq.csv", "row", [2, 3, 4], "Q: When is the club house open?\nA: The club house is open"),
    ("club_pairs.jsonl", "line", [1, 3], "Q: Is there parking for members?\nA: Yes, 30 parking places"),
    ("club_pairs.json", "record", [1], "Q: Who leads the Sunday ride?\nA: The ride captain"),
])
def test_qa_files_give_one_passage_per_pair_numbered_as_a_user_finds_it(name, row_kind, rows, first):
    chunks = read_file(DATA / name)
    assert [c.row for c in chunks] == rows
    assert {c.row_kind for c in chunks} == {row_kind}
    assert chunks[0].text.startswith(first)


def make_bad(kind: str, tmp_path: Path) -> Path:
    if kind == "encrypted":
        return make_encrypted_pdf(tmp_path / "locked.pdf")
    if kind == "image_only":
        return make_image_only_pdf(tmp_path / "scan.pdf")
    path = tmp_path / {"corrupt_docx": "broken.docx", "corrupt_pdf": "broken.pdf", "empty": "empty.md",
                       "blank": "blank.txt", "wrong_type": "slides.pptx", "missing_answer": "qa.csv",
                       "empty_answer": "qa2.csv", "conversation": "chat.jsonl", "bad_json": "x.json"}[kind]
    content = {"corrupt_docx": b"PK\x03\x04 this is not really a zip archive",
               "corrupt_pdf": b"%PDF-1.4\nnonsense without any objects",
               "empty": b"", "blank": b"  \n\n  ", "wrong_type": b"slides",
               "missing_answer": b"question,notes\nWhy?,because\n",
               "empty_answer": b"question,answer\nWhy?,\n",
               "conversation": (DATA / "conversations.jsonl").read_bytes(),
               "bad_json": b"[{\"question\": \"a\", "}[kind]
    path.write_bytes(content)
    return path


BAD_INPUTS = [
    ("encrypted", "encrypted (password-protected)"),
    ("image_only", "has no text layer (scanned?)"),
    ("corrupt_docx", "not a readable DOCX file"),
    ("corrupt_pdf", "PDF"),
    ("empty", "the file is empty (0 bytes)"),
    ("blank", "the file is empty (only whitespace)"),
    ("wrong_type", "unsupported file type '.pptx'"),
    ("missing_answer", "needs a question column"),
    ("empty_answer", "row 2: empty answer"),
    ("conversation", "this is a conversation file"),
    ("bad_json", "is not valid JSON"),
]


@pytest.mark.parametrize("kind, message", BAD_INPUTS)
def test_bad_input_gets_a_clear_message(kind, message, tmp_path):
    path = make_bad(kind, tmp_path)
    with pytest.raises(DocumentError) as error:
        read_file(path)
    assert message in str(error.value) and path.name in str(error.value)


def test_too_large_file_is_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(documents, "MAX_FILE_BYTES", 1000)
    path = tmp_path / "big.txt"
    path.write_text("x" * 2000)
    with pytest.raises(DocumentError, match="more than the limit"):
        read_file(path)


def test_owner_only_protected_pdf_is_read(tmp_path):
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(ASSETS / "policy_wording.pdf"))
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    (tmp_path / "limited.pdf").write_bytes(buffer.getvalue())
    assert read_file(tmp_path / "limited.pdf")[0].page == 1


# ------------------------------------------------------------------------------------------- split_text


@pytest.mark.parametrize(("text", "size", "overlap", "expected"), [
    ("", 10, 2, []),
    ("short", 10, 2, ["short"]),
    ("one two three four", 10, 0, ["one two", "three", "four"]),  # " three four" would be 11 characters
    ("aa bb cc dd", 8, 3, ["aa bb cc", "cc dd"]),  # the next chunk repeats what fits in the overlap
    ("para one\n\npara two", 12, 0, ["para one", "para two"]),  # blank lines are cut first
    ("abcdefghij", 4, 0, ["abcd", "efgh", "ij"]),  # no separator: cut anywhere
])
def test_split_text_by_hand(text, size, overlap, expected):
    assert chunking.split_text(text, size, overlap) == expected


def _sample_texts() -> list[str]:
    import random

    rng = random.Random(0)
    words = ["a", "bb", "policy", "\n", "\n\n", " ", "x" * 50, "y" * 900, "z" * 30]
    made = ["".join(rng.choice(words) + (" " if rng.random() < 0.7 else "") for _ in range(rng.randint(0, 300)))
            for _ in range(60)]
    return [(ASSETS / "policy_wording.md").read_text(), (DATA / "handbook.md").read_text(), *made]


@pytest.mark.parametrize(("size", "overlap"), [(documents.CHUNK_CHARS, documents.CHUNK_OVERLAP), (100, 20), (20, 10)])
def test_split_text_gives_langchains_chunks(size, overlap):
    """The chunks LangChain's RecursiveCharacterTextSplitter made when collections were measured, without importing
    LangChain in the app (only the memory module does)."""
    splitters = pytest.importorskip("langchain_text_splitters")
    splitter = splitters.RecursiveCharacterTextSplitter(chunk_size=size, chunk_overlap=overlap)
    for text in _sample_texts():
        assert chunking.split_text(text, size, overlap) == splitter.split_text(text)
