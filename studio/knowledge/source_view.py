"""A cited source opened where it stands: the PDF page a passage came from, drawn with the sentences the answer used
marked, and that page alone as a PDF to keep. pypdfium2 (PDFium, the PDF engine of Chromium) draws the page; the
passages themselves were read by pypdf (studio/knowledge/documents.py), so a sentence is found on the page by its
letters alone, spaces and line breaks ignored: the two readers break lines and space words differently.
"""

from __future__ import annotations

import io
from pathlib import Path

MAX_SIDE_PX = 1400
"""The longer side of a drawn page, in pixels: an A4 page at about 1.7x its size in points, sharp enough to read on
a laptop; a hostile page size (PDF allows 200 x 200 inches) cannot make a huge image."""
MARK = (255, 214, 0, 110)
"""The colour laid over a used sentence (RGBA: translucent yellow)."""


class SourceError(Exception):
    """A source that cannot be opened; the message says why."""


def _document(path: Path, page: int):
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as e:
        raise SourceError(f"{path.name} cannot be opened as a PDF ({e})") from None
    pages = len(document)
    if not 1 <= page <= pages:
        document.close()
        raise SourceError(f"{path.name} has {pages} pages, not a page {page}")
    return document


def letter_span(text: str, sentence: str) -> tuple[int, int] | None:
    """Where `sentence` stands in `text` as [start, end) indexes of `text`, matching letters and digits case-
    insensitively with every space and line break ignored; None when it is not there."""
    kept = [(i, c.lower()) for i, c in enumerate(text) if not c.isspace()]
    haystack = "".join(c for _, c in kept)
    needle = "".join(c.lower() for c in sentence if not c.isspace())
    at = haystack.find(needle) if needle else -1
    if at < 0:
        return None
    return kept[at][0], kept[at + len(needle) - 1][0] + 1


def page_image(path: Path, page: int, sentences: list[str] = ()):
    """Page `page` (1-based) of PDF `path` as a PIL image, each of `sentences` found on it marked. Returns (image,
    how many of the sentences were found)."""
    from PIL import Image, ImageDraw

    document = _document(path, page)
    try:
        pdf_page = document[page - 1]
        width, height = pdf_page.get_size()
        scale = min(2.0, MAX_SIDE_PX / max(width, height, 1.0))
        image = pdf_page.render(scale=scale).to_pil().convert("RGBA")
        text_page = pdf_page.get_textpage()
        text = text_page.get_text_range()
        overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(overlay)
        found = 0
        for sentence in sentences:
            span = letter_span(text, sentence)
            if span is None:
                continue
            found += 1
            for i in range(text_page.count_rects(span[0], span[1] - span[0])):
                left, bottom, right, top = text_page.get_rect(i)
                draw.rectangle([left * scale, (height - top) * scale, right * scale, (height - bottom) * scale],
                               fill=MARK)
        return Image.alpha_composite(image, overlay).convert("RGB"), found
    finally:
        document.close()


def page_pdf(path: Path, page: int) -> bytes:
    """Page `page` (1-based) of PDF `path` alone, as the bytes of a one-page PDF."""
    import pypdfium2 as pdfium

    document = _document(path, page)
    single = pdfium.PdfDocument.new()
    try:
        single.import_pages(document, [page - 1])
        buffer = io.BytesIO()
        single.save(buffer)
        return buffer.getvalue()
    finally:
        single.close()
        document.close()
