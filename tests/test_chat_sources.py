"""Opening a cited source: the PDF page drawn with the used sentence marked and kept as a one-page PDF, other files
handed over whole, and what a user sees when a source cannot be opened."""

import io

import gradio as gr
import pypdf
import pytest

from studio.knowledge import source_view, store
from studio.ui import chat_sources
from tests.sample_assets import ASSETS

POLICY = ASSETS / "policy_wording.pdf"
CO_PAY = ("An insured person who joins the policy at age 61 or above bears a co-payment of 20% of every admissible "
          "claim on Silver and Gold Plus and 10% on Platinum.")
"""A sentence of page 7 of the sample policy, as pypdf reads it (one line)."""


@pytest.mark.parametrize("text, sentence, span", [
    ("Cover starts\r\nafter 30 days.", "Cover starts after 30 days.", (0, 28)),  # line break vs space
    ("a  b C", "bc", (3, 6)),                      # spaces ignored, case ignored
    ("nothing here", "absent", None),
    ("text", "", None),
])
def test_a_sentence_is_found_by_its_letters(text, sentence, span):
    assert source_view.letter_span(text, sentence) == span


def test_the_page_is_drawn_with_the_used_sentence_marked_and_kept_alone():
    plain, none_found = source_view.page_image(POLICY, 7, [])
    marked, found = source_view.page_image(POLICY, 7, [CO_PAY, "A sentence that is on no page."])
    assert (none_found, found) == (0, 1)
    assert max(marked.size) == source_view.MAX_SIDE_PX and marked.size == plain.size
    changed = sum(a != b for a, b in zip(plain.getdata(), marked.getdata()))
    assert 0.005 < changed / (plain.size[0] * plain.size[1]) < 0.1  # about two lines of the page are tinted
    page = pypdf.PdfReader(io.BytesIO(source_view.page_pdf(POLICY, 7))).pages
    assert len(page) == 1 and "7. Co-payment and Sub-limits" in page[0].extract_text()


@pytest.mark.parametrize("page, message", [(0, "has 10 pages, not a page 0"), (11, "has 10 pages, not a page 11")])
def test_a_page_outside_the_document_is_refused(page, message):
    with pytest.raises(source_view.SourceError, match=message):
        source_view.page_image(POLICY, page)


def test_a_file_that_is_not_a_pdf_is_refused(tmp_path):
    fake = tmp_path / "fake.pdf"
    fake.write_bytes(b"<html>not a pdf</html>")
    with pytest.raises(source_view.SourceError, match="fake.pdf cannot be opened as a PDF"):
        source_view.page_pdf(fake, 1)


# ---------------------------------------------------------------------------------------------- the Chat tab


def passage(file: str, page=None, used=(), collection="ours") -> dict:
    citation = f"{file} p. {page}" if page else f"{file} row 3"
    return {"file": file, "page": page, "citation": citation, "used": list(used), "collection": collection}


@pytest.fixture
def originals(tmp_path, monkeypatch):
    """store.original_file answering from a folder of kept files; a file not there was never kept."""
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "policy_wording.pdf").write_bytes(POLICY.read_bytes())
    (kept / "faq.csv").write_text("question,answer\nQ?,A.\n")

    def original_file(name, file):
        if name != "ours":
            raise store.KnowledgeError(f"No collection named {name!r}")
        return kept / file if (kept / file).is_file() else None

    monkeypatch.setattr(chat_sources.store, "original_file", original_file)


def test_the_picker_lists_the_latest_replies_sources_by_their_numbers():
    sources = {1: [passage("faq.csv")], 3: [passage("policy_wording.pdf", 7), passage("faq.csv")]}
    picker = chat_sources.source_choices(sources)
    assert picker.choices == [("[1] policy_wording.pdf p. 7", "3:1"), ("[2] faq.csv row 3", "3:2")]
    assert chat_sources.source_choices({}).choices == []


def test_a_pdf_source_opens_at_its_page_with_the_used_sentence_marked(originals):
    sources = {1: [passage("policy_wording.pdf", 7, [CO_PAY])]}
    image, kept, note = chat_sources.open_source("1:1", sources)
    assert image is not None and note.startswith("**[1] policy_wording.pdf p. 7**: page 7 of policy_wording.pdf")
    assert "sentence the answer used marked" in note and kept.endswith("policy_wording-p7.pdf")
    assert len(pypdf.PdfReader(kept).pages) == 1


@pytest.mark.parametrize("source, image, file, note", [
    (passage("faq.csv"), False, "faq.csv", "the whole file, as it was added"),
    (passage("old.pdf", 2), False, None, "keeps no copy of old.pdf"),
    (passage("policy_wording.pdf", 7), True, "policy_wording-p7.pdf", "used no sentence of it word for word"),
    (passage("policy_wording.pdf", 7, ["Words on no page at all."]), True, "policy_wording-p7.pdf",
     "could not be found on the drawn page"),
])
def test_what_each_source_opens_to(originals, source, image, file, note):
    shown, kept, said = chat_sources.open_source("1:1", {1: [source]})
    assert (shown is not None) == image and note in said
    assert (kept or "").endswith(file or "") and (kept is None) == (file is None)


@pytest.mark.parametrize("choice, sources, message", [
    ("2:1", {1: [passage("faq.csv")]}, "Pick one of the sources listed"),
    ("1:5", {1: [passage("faq.csv")]}, "Pick one of the sources listed"),
    ("x", {1: [passage("faq.csv")]}, "Pick one of the sources listed"),
    ("1:1", {1: [passage("faq.csv", collection="theirs")]}, "No collection named 'theirs'"),
    ("1:1", {1: [passage("policy_wording.pdf", 12)]}, "has 10 pages, not a page 12"),
])
def test_a_source_that_cannot_be_opened_says_why(originals, choice, sources, message):
    with pytest.raises(gr.Error, match=message):
        chat_sources.open_source(choice, sources)
