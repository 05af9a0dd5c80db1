#!/usr/bin/env python3
"""Render assets/policy_wording.md as assets/policy_wording.pdf (A4, extractable text).

    python assets/make_policy_pdf.py [MARKDOWN] [PDF]

The Markdown is the source of truth; run this after editing it. Needs the pure-Python package fpdf2
(`pip install fpdf2==2.8.9`). The output is deterministic: with fpdf2 2.8.9 it reproduces the shipped PDF
byte for byte. tests/test_sample_data.py checks that the PDF's text layer says what the Markdown says.

The renderer understands only the Markdown this document uses, one block per paragraph: `#`/`##`/`###`
headings, `**Term**: text` definitions, paragraphs (with `**bold**`), `- ` lists and `|` tables.
"""
from __future__ import annotations

import re
import sys
from datetime import datetime, timezone
from pathlib import Path

ASSETS = Path(__file__).resolve().parent
# The /Creator recorded in the shipped PDF (the script that first rendered it, since replaced by this one);
# kept so that re-rendering an unchanged Markdown reproduces the shipped file byte for byte.
PDF_CREATOR = "assets/make_sample_data.py"
CREATION_DATE = datetime(2025, 1, 1, tzinfo=timezone.utc)  # fixed, for byte-identical output
TABLE_COLUMN_WIDTHS = {2: (3, 2), 3: (2, 3, 3), 4: (5, 4, 4, 4), 5: (3, 3, 3, 6, 3)}


def markdown_blocks(markdown: str) -> list[tuple]:
    """Blocks ("h1"|"h2"|"h3"|"p", text), ("def", term, text), ("ul", items), ("table", header, rows)."""
    blocks: list[tuple] = []
    for chunk in markdown.strip("\n").split("\n\n"):
        lines = chunk.split("\n")
        heading = re.fullmatch(r"(#{1,3}) (.+)", chunk)
        definition = re.fullmatch(r"\*\*([^*]+)\*\*: (.+)", chunk, re.S)
        if heading:
            blocks.append((f"h{len(heading[1])}", heading[2]))
        elif chunk.startswith("- "):
            blocks.append(("ul", [line[2:] for line in lines]))
        elif chunk.startswith("| "):
            cells = [line[2:-2].split(" | ") for line in lines]
            blocks.append(("table", cells[0], cells[2:]))  # cells[1] is the |---| separator row
        elif definition:
            blocks.append(("def", definition[1], definition[2]))
        else:
            blocks.append(("p", chunk))
    return blocks


def render_pdf(blocks: list[tuple], path: Path) -> None:
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    title = blocks[0][1]  # "Insurer: Product Policy Wording"
    insurer, document = title.split(": ", 1)
    running_header = f"{insurer} - {document} (fictional)"

    class PolicyPDF(FPDF):
        def header(self) -> None:
            if self.page_no() > 1:
                self.set_font("Helvetica", "I", 8)
                self.set_text_color(110, 110, 110)
                self.cell(0, 6, running_header, align="R", new_x="LMARGIN", new_y="NEXT")
                self.ln(2)
                self.set_text_color(0, 0, 0)

        def footer(self) -> None:
            self.set_y(-12)
            self.set_font("Helvetica", "I", 8)
            self.set_text_color(110, 110, 110)
            self.cell(0, 8, f"Page {self.page_no()} of {{nb}}", align="C")
            self.set_text_color(0, 0, 0)

    pdf = PolicyPDF(format="A4")
    pdf.set_creation_date(CREATION_DATE)
    pdf.set_title(document)
    pdf.set_author(f"{insurer} (fictional)")
    pdf.set_subject("Sample domain data for Conversational QA Studio")
    pdf.set_creator(PDF_CREATOR)
    pdf.set_margins(18, 15, 18)
    pdf.set_auto_page_break(True, margin=18)
    pdf.add_page()
    for kind, *body in blocks:
        if kind == "h1":
            pdf.set_font("Helvetica", "B", 16)
            pdf.multi_cell(0, 8, body[0], align="L", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
        elif kind == "h2":
            if pdf.get_y() > pdf.h - 50:  # no section heading at the foot of a page
                pdf.add_page()
            pdf.ln(3)
            pdf.set_font("Helvetica", "B", 13)
            pdf.multi_cell(0, 7, body[0], align="L", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1)
        elif kind == "h3":
            if pdf.get_y() > pdf.h - 40:
                pdf.add_page()
            pdf.ln(1)
            pdf.set_font("Helvetica", "B", 11)
            pdf.multi_cell(0, 6, body[0], align="L", new_x="LMARGIN", new_y="NEXT")
        elif kind in ("p", "def"):
            text = body[0] if kind == "p" else f"**{body[0]}**: {body[1]}"
            pdf.set_font("Helvetica", "", 10)
            pdf.multi_cell(0, 5, text, markdown=True, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
        elif kind == "ul":
            pdf.set_font("Helvetica", "", 10)
            for item in body[0]:
                pdf.set_x(pdf.l_margin + 3)
                pdf.cell(4, 5, "-")
                pdf.multi_cell(0, 5, item, new_x="LMARGIN", new_y="NEXT")
                pdf.ln(0.8)
            pdf.ln(1.5)
        elif kind == "table":
            header, rows = body
            pdf.set_font("Helvetica", "", 8.5)
            with pdf.table(col_widths=TABLE_COLUMN_WIDTHS[len(header)], text_align="LEFT", line_height=4.6,
                           headings_style=FontFace(emphasis="BOLD", fill_color=(225, 230, 240))) as table:
                for row in [header] + rows:
                    cells = table.row()
                    for cell_text in row:
                        cells.cell(cell_text)
            pdf.ln(3)
    pdf.output(str(path))


def main(argv: list[str]) -> int:
    source = Path(argv[0]) if argv else ASSETS / "policy_wording.md"
    target = Path(argv[1]) if len(argv) > 1 else ASSETS / "policy_wording.pdf"
    try:
        import fpdf  # noqa: F401
    except ImportError:
        print("The PDF needs the Python package fpdf2: pip install fpdf2==2.8.9", file=sys.stderr)
        return 1
    render_pdf(markdown_blocks(source.read_text(encoding="utf-8")), target)
    print(f"Wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
