"""Limits that keep reading one uploaded file bounded in time and memory; studio/knowledge/documents.py applies them
and refuses a file over one with a message that names it.

Why: an 80 KB DOCX holding 33 MB of XML (5.5 million empty paragraphs) took 95 s and 1.2 GB of RAM to read here,
a 15 MB HTML page 48 s and 1.1 GB, a 22 KB PDF of one page of 300,000 text lines 98 s. Each limit below is set well
above what real documents need (numbers measured on this 2-core machine are in the docstrings) and checked before
the expensive step where it can be: zip sizes and element counts before python-docx builds its tree, tags before
BeautifulSoup, pypdf's own limits while it unpacks and parses, characters before text is cut into passages.
"""

from __future__ import annotations

import io
import itertools
import re
import zipfile

MB = 1024 * 1024

MAX_PASSAGES = 10_000
"""Passages in one file: all-MiniLM-L6-v2 embeds 20-50 passages a second on 2 CPU cores, so 3 to 8 minutes."""
MAX_TEXT_CHARS = 8_000_000
"""Characters of text in one file (the markup, for HTML), about MAX_PASSAGES passages of 800 characters; checked
before the text is cut, which holds ~30 bytes of RAM per character while it runs (an 18 MB text file: 500 MB)."""

MAX_ZIP_MEMBERS = 1000
"""Files inside a DOCX. Word writes 10-30 plus one per picture; zipfile builds a ~500-byte object for each entry
as it opens the archive (a 26 MB zip of 300,000 empty entries: 2.3 s, 160 MB)."""
MAX_DOCX_UNPACKED_BYTES = 128 * MB
"""All files of a DOCX unpacked; python-docx holds every one in memory. Pictures do not shrink when zipped, so a
document under the 50 MB upload limit unpacks to little more than its size plus its XML."""
MAX_DOCX_XML_BYTES = 64 * MB
"""XML of a DOCX unpacked; a 700-page document written by python-docx has 11 MB (Word's markup is more verbose)."""
MAX_DOCX_ELEMENTS = 1_000_000
"""XML elements (paragraphs, runs, cells, their properties...) of a DOCX. That 700-page document has 324,000 (5 s,
110 MB) and makes about MAX_PASSAGES passages; a 900 KB file of 320,000 one-letter paragraphs, just under the limit,
takes 20 s and 250 MB (python-docx's Paragraph.text)."""
MAX_ZIP_RATIO = 100
"""How many times larger than packed a zip member may unpack: Word's XML shrinks 5 to 35 times, deflate at most
~1000 times (a "zip bomb"). Checked on members over ZIP_RATIO_FROM_BYTES unpacked."""
ZIP_RATIO_FROM_BYTES = 1 * MB
"""Smaller members are harmless whatever their ratio (a blank bitmap shrinks a thousand times)."""

MAX_PDF_PAGES = 2000
"""Pages in a PDF, counted before any is read. The policy wording makes ~7 passages a page, so a PDF this long is
over MAX_PASSAGES unless its pages are sparse (slides)."""
MAX_PDF_STREAM_BYTES = 32 * MB
"""One PDF stream unpacked (a page's drawing instructions, an embedded font...): a text page has 5-100 KB, a whole
unsubsetted CJK font up to ~20 MB. pypdf's own default is 75 MB; parsing a stream takes ~0.1 s per MB."""
MAX_PDF_PAGE_INSTRUCTIONS = 1_000_000
"""Operands and operators in one content stream (pypdf parses them all before reading the page, ~3 µs and ~140
bytes each, so ~3 s and ~140 MB at the limit); a page of text has a few thousand, a detailed vector drawing may
have hundreds of thousands."""
MAX_PDF_PAGE_SECONDS = 10
"""Reading one PDF page: the policy wording's pages take 0.01 s each, a made-up page of 30,000 lines of text 2 s."""
MAX_PDF_SECONDS = 300
"""Reading a whole PDF: MAX_PDF_PAGES pages like the policy wording's take 25 s; this leaves room for denser ones."""

MAX_HTML_TAGS = 200_000
"""Tags in an HTML page: BeautifulSoup holds ~1 KB and takes ~40 µs for each (so 200 MB and 8 s at the limit); a long
web article has tens of thousands."""


def pypdf_limits() -> dict:
    """Overrides for pypdf.apply_configuration (pypdf raises LimitReachedError past one)."""
    unpacked = MAX_PDF_STREAM_BYTES
    return {"zlib_maximum_output_length": unpacked, "lzw_maximum_output_length": unpacked,
            "run_length_maximum_output_length": unpacked, "brotli_maximum_output_length": unpacked,
            "array_based_stream_maximum_output_length": unpacked,
            "stream_parsing_work_maximum_count": MAX_PDF_PAGE_INSTRUCTIONS,
            # the page tree holds a node per page plus a few to group them: a tree past this has too many pages
            "page_tree_maximum_entries": 2 * MAX_PDF_PAGES}


def docx_problem(data: bytes) -> str | None:
    """Why this DOCX (zip) is over a limit, found from the zip's directory and a streamed count of XML elements
    before anything builds a tree; None when it is within them. zipfile errors on a damaged file propagate."""
    # every member has a central directory entry that starts with this signature: an upper bound on the count
    members = data.count(b"PK\x01\x02")
    if members > MAX_ZIP_MEMBERS:
        return f"it holds {members:,} files (zip members), over the limit of {MAX_ZIP_MEMBERS:,} for a DOCX"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
        for info in infos:
            packed = max(info.compress_size, 1)
            if info.file_size > ZIP_RATIO_FROM_BYTES and info.file_size > MAX_ZIP_RATIO * packed:
                return (f"{info.filename} unpacks to {info.file_size / MB:,.0f} MB from {packed / 1024:,.0f} KB, "
                        f"{info.file_size // packed:,} times its packed size, over the limit of {MAX_ZIP_RATIO} times "
                        "for a file inside a DOCX: a zip bomb or a damaged file")
        unpacked = sum(info.file_size for info in infos)
        if unpacked > MAX_DOCX_UNPACKED_BYTES:
            return (f"its files unpack to {unpacked / MB:,.0f} MB, over the limit of "
                    f"{MAX_DOCX_UNPACKED_BYTES // MB} MB for a DOCX")
        xml = [info for info in infos if info.filename.endswith((".xml", ".rels"))]
        # zipfile stops at a member's declared size (a longer one fails its CRC), so these bound what is read
        xml_bytes = sum(info.file_size for info in xml)
        if xml_bytes > MAX_DOCX_XML_BYTES:
            return (f"its XML unpacks to {xml_bytes / MB:,.0f} MB, over the limit of {MAX_DOCX_XML_BYTES // MB} MB for "
                    "a DOCX; split it into smaller documents")
        elements = sum(_count_elements(archive, info) for info in xml)
    if elements > MAX_DOCX_ELEMENTS:
        return (f"its XML has {elements:,} elements (paragraphs, runs, table cells...), over the limit of "
                f"{MAX_DOCX_ELEMENTS:,} for a DOCX; split it into smaller documents, or remove empty paragraphs")
    return None


def _count_elements(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> int:
    """Start tags in one XML member, read a megabyte at a time: every "<" that does not open an end tag,
    a processing instruction, a comment or CDATA (XML text and attribute values cannot hold a bare "<")."""
    count = 0
    with archive.open(info) as member:
        while piece := member.read(MB):
            if piece.endswith(b"<"):  # so that a tag cut between two pieces is still seen whole
                piece += member.read(1)
            count += piece.count(b"<") - piece.count(b"</") - piece.count(b"<?") - piece.count(b"<!")
    return count


_TAG = re.compile(r"<[A-Za-z]")
"""Where Python's html.parser (BeautifulSoup's "html.parser") starts a tag."""


def html_problem(text: str) -> str | None:
    """Why this HTML page is over the tag limit, counted before BeautifulSoup builds its tree; None when within it."""
    tags = sum(1 for _ in itertools.islice(_TAG.finditer(text), MAX_HTML_TAGS + 1))
    if tags > MAX_HTML_TAGS:
        return (f"the page has more than {MAX_HTML_TAGS:,} HTML tags, over the limit for a page; save it as text "
                "(.txt) or split it")
    return None
