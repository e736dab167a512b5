"""PDF tables: Chinese text readable back from the file, customers' markup drawn as text,
and a result past the row limit cut with a note saying so."""

from __future__ import annotations

import io
from datetime import datetime

from pypdf import PdfReader

from kefu.reports import pdf


def _text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def test_chinese_markup_and_row_limit() -> None:
    rows = [
        [1, "短信", datetime(2026, 11, 3, 9, 5, 31), 4.256, "<b>x</b> & <script>"],
        [2, "微信", None, None, "很长的一段话，" * 30],
    ] + [[n, "网页", None, 1.0, "好的"] for n in range(3, 13)]
    content = pdf.table_pdf("会话记录", ["会话", "渠道", "时间", "评分", "内容"], rows,
                            subtitle="检索：账单", limit=5)  # fmt: skip
    assert content.startswith(b"%PDF")
    text = _text(content)
    assert "会话记录" in text and "检索：账单" in text and "短信" in text
    assert "2026-11-03 09:05" in text and "4.26" in text
    assert "<b>x</b> & <script>" in text  # escaped, so drawn as typed (not bold, no error)
    assert "很长的一段话" in text  # a long text wraps within its column
    assert "仅含前 5 行（另有 7 行未列出）" in text
    assert "网页" in text and "\n6\n" not in text  # rows past the limit are not laid out


def test_empty_result_is_a_header_only_pdf() -> None:
    text = _text(pdf.table_pdf("报表", ["日期", "会话"], []))
    assert "报表" in text and "日期" in text and "仅含前" not in text
