"""Import and export formats, row-level errors, the demo base."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from kefu.knowledge import importexport as ie
from kefu.knowledge.demo import demo_contents, load_demo_knowledge
from kefu.knowledge.models import KnowledgeEntry


def test_csv_reader_accepts_bom_and_gbk_and_rejects_unknown_columns() -> None:
    text = "question,answer_sms\n信用卡怎么激活,在App激活\n"
    assert list(ie.read_csv(("\ufeff" + text).encode()))[0]["question"] == "信用卡怎么激活"
    assert list(ie.read_csv(text.encode("gb18030")))[0]["answer_sms"] == "在App激活"
    with pytest.raises(ie.ImportFormatError, match="unknown columns: answer"):
        list(ie.read_csv("question,answer\n问题,答\n".encode()))
    with pytest.raises(ie.ImportFormatError, match="'question' column"):
        list(ie.read_csv(b"title\nx\n"))
    with pytest.raises(ie.ImportFormatError, match="xlsx"):
        list(ie.read_xlsx(b"not a workbook"))


def test_row_parsing_names_the_row_and_column() -> None:
    _, content, errors = ie._parse_row({"question": "信用卡怎么激活", "paraphrases": "新卡怎么激活｜如何激活信用卡",
                                        "answer_sms": "在App激活", "id": ""}, 2)  # fmt: skip
    assert errors == [] and content is not None
    assert content.paraphrases == ["新卡怎么激活", "如何激活信用卡"]
    _, _, errors = ie._parse_row(
        {"question": "信用卡怎么激活", "answer_sms": "在App激活", "id": "x"}, 7
    )
    assert errors == [ie.RowError(7, "id", "must be a whole number or empty")]
    _, _, errors = ie._parse_row({"question": "信用卡怎么激活", "answer_sms": "长" * 135}, 9)
    assert [(e.row, e.column) for e in errors] == [(9, "answer_sms")]


def test_export_neutralises_formulas_and_round_trips_through_xlsx() -> None:
    from openpyxl import load_workbook

    rows = [list(ie.COLUMNS), ["1", "faq", "draft", "", "=HYPERLINK(\"x\")", "", "a", "", "", "",
                                "", "", "", "", "", ""]]  # fmt: skip
    book = load_workbook(io.BytesIO(ie.write_xlsx([r[:] for r in rows])))
    assert book.active.cell(2, 5).data_type == "s"
    parsed = list(ie.read_xlsx(ie.write_xlsx(rows)))
    assert parsed[0]["question"] == '=HYPERLINK("x")'
    csv_text = ie.write_csv(rows).decode("utf-8-sig")
    assert csv_text.splitlines()[0].startswith("id,kind,status")


def test_demo_base_is_large_varied_and_valid() -> None:
    contents = demo_contents()
    assert len(contents) >= 200
    assert {c.category for c in contents} >= {
        "信用卡",
        "存款",
        "贷款",
        "转账",
        "手机银行",
        "费用",
        "挂失",
        "网点",
    }
    assert sum(len(c.paraphrases) for c in contents) >= 2 * len(contents)
    assert len({c.question for c in contents}) == len(contents)


@pytest.mark.db
def test_import_is_all_or_nothing_and_demo_load_is_idempotent(run_db) -> None:  # type: ignore[no-untyped-def]
    rows = [
        {"question": "信用卡怎么激活", "answer_sms": "在App激活"},
        {"question": "问", "answer_sms": "短"},
    ]
    report = run_db(lambda s: ie.import_rows(s, rows=rows, actor="ed"))
    assert [(e.row, e.column) for e in report.errors] == [(3, "question")]
    count = select(func.count()).select_from(KnowledgeEntry)
    assert run_db(lambda s: s.scalar(count)) == 0
    report = run_db(lambda s: ie.import_rows(s, rows=rows[:1], actor="ed"))
    assert report.ok and report.created == 1
    update = [{"id": "1", "question": "信用卡怎么激活", "answer_sms": "在手机银行激活"}]
    assert run_db(lambda s: ie.import_rows(s, rows=update, actor="ed")).updated == 1
    missing = [{"id": "99", "question": "信用卡怎么激活", "answer_sms": "在手机银行激活"}]
    assert run_db(lambda s: ie.import_rows(s, rows=missing, actor="ed")).errors[0].column == "id"
    assert run_db(load_demo_knowledge) >= 200
    assert run_db(load_demo_knowledge) == 0
