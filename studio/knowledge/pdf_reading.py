"""A PDF's text, line by line, with the lines set larger than the body text as headings (pypdf; see
studio/knowledge/documents.py, which cuts them into passages), read within the limits of
studio/knowledge/document_limits.py: pages, unpacked stream bytes, drawing instructions, seconds per page and per
file, characters. Every problem raises PdfProblem, which documents.py turns into a DocumentError naming the file.
"""

from __future__ import annotations

import io
import time

from studio.knowledge import document_limits as limits


class PdfProblem(Exception):
    """Why a PDF cannot be read; the message is for the user, after the file's name."""


def heading_lines(data: bytes) -> list[tuple[int, str, int]]:
    """The PDF's text lines in reading order: (heading level or 0, text, 1-based page). PdfProblem says why not."""
    from pypdf import PdfReader, apply_configuration
    from pypdf.errors import LimitReachedError, PdfReadError

    try:
        with apply_configuration(**limits.pypdf_limits()):
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted and not _opens_without_password(reader):
                raise PdfProblem("the PDF is encrypted (password-protected); save an unprotected copy and add that")
            if len(reader.pages) > limits.MAX_PDF_PAGES:
                raise PdfProblem(f"the PDF has {len(reader.pages):,} pages, over the limit of "
                                 f"{limits.MAX_PDF_PAGES:,} for a file; split it into smaller files")
            pages = _pages(reader.pages)
    except PdfProblem:
        raise
    except LimitReachedError as e:
        raise PdfProblem(f"the PDF is over a limit for reading it safely ({e}); a PDF may have up to "
                         f"{limits.MAX_PDF_PAGES:,} pages, streams that unpack to "
                         f"{limits.MAX_PDF_STREAM_BYTES // limits.MB} MB and {limits.MAX_PDF_PAGE_INSTRUCTIONS:,} "
                         "drawing instructions a page; split it, or print it to a new PDF") from e
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as e:
        raise PdfProblem(f"not a readable PDF ({e})") from e
    except Exception as e:  # pypdf raises many kinds on damaged files; "dependency missing" ones included
        raise PdfProblem(f"cannot read this PDF ({type(e).__name__}: {e})") from e
    if not pages:
        raise PdfProblem("the PDF has no pages")
    if not any(text.strip() for lines in pages for text, _ in lines):
        raise PdfProblem("the PDF has no text layer (scanned?). Run it through OCR first, then add the result")
    return _headings(pages)


def _pages(pages) -> list[list[tuple[str, float]]]:
    """Each page's lines (`_page_lines`), within the time limits per page and per file and the text limit."""
    found, chars = [], 0
    end = time.monotonic() + limits.MAX_PDF_SECONDS
    for number, page in enumerate(pages, 1):
        try:
            lines = _page_lines(page, min(time.monotonic() + limits.MAX_PDF_PAGE_SECONDS, end))
        except TimeoutError as e:
            raise PdfProblem(f"page {number} of {len(pages):,} went past the time limits for reading a PDF "
                             f"({limits.MAX_PDF_PAGE_SECONDS} s a page, {limits.MAX_PDF_SECONDS} s a file); split it, "
                             "or print it to a new PDF") from e
        chars += sum(len(text) for text, _ in lines)
        if chars > limits.MAX_TEXT_CHARS:
            raise PdfProblem(f"{chars:,} characters of text by page {number}, over the limit of "
                             f"{limits.MAX_TEXT_CHARS:,} for a file; split it into smaller files")
        found.append(lines)
    return found


def _page_lines(page, deadline: float) -> list[tuple[str, float]]:
    """The page's text lines (pypdf's layout), each with the largest font size used on it (0 when unknown);
    TimeoutError past `deadline` (time.monotonic())."""
    sizes: list[tuple[str, float]] = []

    def visit(text, cm, tm, font, size):
        if text.strip():
            scale = (tm[0] ** 2 + tm[1] ** 2) ** 0.5 * (cm[0] ** 2 + cm[1] ** 2) ** 0.5
            sizes.append((" ".join(text.split()), round(float(size) * (scale or 1.0), 1)))

    def in_time(operator, operands, cm, tm):
        if time.monotonic() > deadline:
            raise TimeoutError

    text = page.extract_text(visitor_text=visit, visitor_operand_before=in_time) or ""
    # pypdf logs and skips an error inside a form XObject, so a timeout raised there is checked again here
    if time.monotonic() > deadline:
        raise TimeoutError
    lines, runs = [], iter(sizes)
    run = next(runs, None)
    for line in text.splitlines():
        flat, largest, at = " ".join(line.split()), 0.0, 0
        # the runs arrive in the same order as the text: consume those that make up this line (an index, not
        # slicing, so that a line of many runs costs linear time)
        while run is not None and at < len(flat) and (found := flat.find(run[0], at)) >= 0:
            largest = max(largest, run[1])
            at = found + len(run[0])
            run = next(runs, None)
        lines.append((line, largest))
    return lines


def _headings(pages: list[list[tuple[str, float]]]) -> list[tuple[int, str, int]]:
    """Lines (heading level or 0, text, page): short lines set larger than the body text are headings, the
    largest size level 1; consecutive lines of one heading size (a wrapped title) are one heading."""
    weight: dict[float, int] = {}
    for lines in pages:
        for text, size in lines:
            weight[size] = weight.get(size, 0) + len(text)
    body = max(weight, key=weight.get) if weight else 0.0
    heading_sizes = sorted({size for lines in pages for text, size in lines
                            if body and size >= body * 1.08 and len(text.strip()) <= 120}, reverse=True)
    levels = {size: n for n, size in enumerate(heading_sizes, 1)}
    out: list[tuple[int, str, int]] = []
    for number, lines in enumerate(pages, 1):
        for text, size in lines:
            level = levels.get(size, 0) if len(text.strip()) <= 120 else 0
            if level and out and out[-1][0] == level and out[-1][2] == number and out[-1][3]:
                out[-1] = (level, f"{out[-1][1]} {text.strip()}", number, True)
                continue
            out.append((level, text.strip() if level else text, number, bool(level)))
    return [(level, text, page) for level, text, page, _ in out]


def _opens_without_password(reader) -> bool:
    """PDFs protected only by an owner password (printing/copying limits) open with an empty user password."""
    try:
        return bool(reader.decrypt(""))
    except Exception:  # e.g. AES without the cryptography package: treated as locked
        return False
