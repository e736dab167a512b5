"""Tables as PDF (report builder results, the monthly agent KPI sheet, conversation
transcripts), with reportlab.

Chinese needs no font file: reportlab's built-in CID font STSong-Light (Adobe's Asian font
pack names it; every PDF reader has a substitute) renders it, so the PDF stays small and the
server needs nothing installed. A PDF is laid out whole before it is written, so it is
bounded, not streamed: at most ``ROW_LIMIT`` rows, and a note at the top says how many were
left out and that CSV carries them all. Build it in a thread (``asyncio.to_thread``): laying
out a few thousand rows takes a second or two of CPU.

Every cell is text we escape: customers' words go through reportlab's mini-markup
(Paragraph), where ``<`` would otherwise be a tag.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import LongTable, Paragraph, SimpleDocTemplate, Spacer

FONT = "STSong-Light"
ROW_LIMIT = 5000  # rows in one PDF; CSV has no limit
_CHUNK = 250  # rows per table: reportlab splits a short table across pages much faster
MEDIA_TYPE = "application/pdf"

pdfmetrics.registerFont(UnicodeCIDFont(FONT))
_TITLE = ParagraphStyle("title", fontName=FONT, fontSize=14, leading=18, spaceAfter=4)
_NOTE = ParagraphStyle("note", fontName=FONT, fontSize=9, leading=12, textColor=colors.grey)
_WARN = ParagraphStyle("warn", fontName=FONT, fontSize=9, leading=12, textColor=colors.darkred)
_CELL = ParagraphStyle("cell", fontName=FONT, fontSize=8, leading=10, wordWrap="CJK")
_HEAD = ParagraphStyle("head", parent=_CELL, textColor=colors.white)
_STYLE = [
    ("FONT", (0, 0), (-1, -1), FONT, 8),
    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#1f4e79")),
    ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#b0b7c3")),
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f3f5f8")]),
]


def cell_text(value: object) -> str:
    """A cell as a reader sees it: times to the minute, rates and means to two places."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _para(value: object, style: ParagraphStyle) -> Paragraph:
    # Line breaks kept; everything else escaped (customers' text is hostile markup).
    return Paragraph(escape(cell_text(value)).replace("\n", "<br/>"), style)


def _cell(value: object, fits: int) -> str | Paragraph:
    """A short text as a plain string (drawn as is: no markup, fast); a longer one as a
    paragraph that wraps within its column (laying it out is the slow part of a PDF)."""
    text = cell_text(value)
    return text if len(text) <= fits and "\n" not in text else _para(text, _CELL)


def table_pdf(
    title: str,
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    subtitle: str = "",
    widths: Sequence[float] | None = None,
    limit: int = ROW_LIMIT,
    truncated_note: str = "仅含前 {limit} 行（另有 {more} 行未列出）；完整数据请导出 CSV。",
) -> bytes:
    """One PDF (A4 landscape) of ``header`` and ``rows``; ``widths`` are relative column
    widths (equal when None). Rows past ``limit`` are counted, not laid out."""
    page = landscape(A4)
    usable = page[0] - 24 * mm
    shares = list(widths) if widths else [1.0] * len(header)
    col_widths = [usable * share / sum(shares) for share in shares]
    # Characters that surely fit on one line: a Chinese character is as wide as the font
    # size, and a cell has 2 × 6 points of padding.
    fits = [max(1, int((w - 12) // _CELL.fontSize)) for w in col_widths]
    kept: list[list[str | Paragraph]] = []
    more = 0
    for row in rows:
        if len(kept) < limit:
            kept.append([_cell(v, n) for v, n in zip(row, fits, strict=False)])
        else:
            more += 1
    story: list = [_para(title, _TITLE)]
    if subtitle:
        story.append(_para(subtitle, _NOTE))
    if more:
        story.append(_para(truncated_note.format(limit=limit, more=more), _WARN))
    story.append(Spacer(1, 3 * mm))
    head = [_para(h, _HEAD) for h in header]
    for start in range(0, max(len(kept), 1), _CHUNK):
        chunk = [head, *kept[start : start + _CHUNK]]
        story.append(LongTable(chunk, colWidths=col_widths, repeatRows=1, style=_STYLE))
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=page, title=title, leftMargin=12 * mm,
                            rightMargin=12 * mm, topMargin=12 * mm, bottomMargin=12 * mm)  # fmt: skip
    doc.build(story)
    return out.getvalue()
