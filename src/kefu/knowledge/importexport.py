"""FAQ import and export as CSV and Excel (openpyxl).

One row per entry; list cells (paraphrases, tags, products, regions) are separated by ``|``.
An import is all-or-nothing: every row is validated first and, if any row is wrong, nothing is
written and each error names its row and column, so an editor fixes the sheet and retries
without half an import to clean up. A row whose ``id`` names an existing entry saves a new
draft version of it; other rows create drafts (or, for trusted loads, publish directly).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.audit.service import record
from kefu.knowledge import service
from kefu.knowledge.content import EntryContent
from kefu.knowledge.models import KnowledgeEntry, KnowledgeVersion

COLUMNS = ["id", "kind", "status", "category", "question", "paraphrases", "answer_sms",
           "answer_wechat", "answer_agent", "internal_note", "body", "tags", "products",
           "regions", "effective_from", "expires_at"]  # fmt: skip
LIST_COLUMNS = {"paraphrases", "tags", "products", "regions"}
IGNORED_ON_IMPORT = {"status"}  # workflow state is never imported: imports are drafts
MAX_ROWS = 5000
MAX_CELL = 50_000
_FORMULA_START = ("=", "+", "-", "@")


class ImportFormatError(ValueError):
    """The file as a whole is unreadable (not a single row can be trusted)."""


@dataclass(frozen=True)
class RowError:
    row: int  # as the editor sees it in the sheet: the header is row 1
    column: str
    message: str


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


# --- reading -------------------------------------------------------------------------------
def read_csv(data: bytes) -> Iterator[dict[str, Any]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")  # Excel on Chinese Windows saves CSV in GBK
        except UnicodeDecodeError as exc:
            raise ImportFormatError("the file is neither UTF-8 nor GB18030 text") from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))
    _check_header(reader.fieldnames)
    yield from reader


def read_xlsx(data: bytes) -> Iterator[dict[str, Any]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged file
        raise ImportFormatError("the file is not a readable .xlsx workbook") from exc
    try:
        rows = book.worksheets[0].iter_rows(values_only=True)
        header = next(rows, None)
        names = [str(h).strip() if h is not None else "" for h in (header or ())]
        _check_header(names)
        for values in rows:
            if values is None or all(v in (None, "") for v in values):
                continue
            yield {n: v for n, v in zip(names, values, strict=False) if n}
    finally:
        book.close()


def _check_header(names: Iterable[str] | None) -> None:
    names = [n.strip() for n in (names or [])]
    if "question" not in names:
        raise ImportFormatError("the header row must name a 'question' column")
    unknown = sorted(set(names) - set(COLUMNS) - {""})
    if unknown:
        raise ImportFormatError(
            f"unknown columns: {', '.join(unknown)}; known: {', '.join(COLUMNS)}"
        )


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value
    text = str(value).strip()
    # Undo the quote that export puts before formula-like text.
    if text.startswith("'") and text[1:2] in _FORMULA_START:
        text = text[1:]
    return text


def _parse_row(
    raw: dict[str, Any], row: int
) -> tuple[int | None, EntryContent | None, list[RowError]]:
    errors: list[RowError] = []
    values: dict[str, Any] = {}
    entry_id: int | None = None
    for name, value in raw.items():
        if name is None:  # a row longer than the header
            errors.append(RowError(row, "", "more cells than header columns"))
            continue
        name = name.strip()
        if name in IGNORED_ON_IMPORT or name not in COLUMNS:
            continue
        value = _cell(value)
        if isinstance(value, str) and len(value) > MAX_CELL:
            errors.append(RowError(row, name, f"longer than {MAX_CELL} characters"))
            continue
        if name == "id":
            if value != "":
                try:
                    entry_id = int(float(value)) if not isinstance(value, datetime) else None
                except ValueError:
                    errors.append(RowError(row, "id", "must be a whole number or empty"))
            continue
        if name in LIST_COLUMNS:
            text = str(value).replace("｜", "|").replace("\n", "|")
            values[name] = [p.strip() for p in text.split("|") if p.strip()]
        elif value != "":
            values[name] = value
    if errors:
        return entry_id, None, errors
    try:
        return entry_id, EntryContent.model_validate(values), []
    except ValidationError as exc:
        for err in exc.errors():
            column = str(err["loc"][0]) if err["loc"] else ""
            message = err["msg"].removeprefix("Value error, ")
            errors.append(RowError(row, column, message))
        return entry_id, None, errors


async def import_rows(
    session: AsyncSession,
    *,
    rows: Iterable[dict[str, Any]],
    actor: str,
    publish: bool = False,
    ip: str | None = None,
) -> ImportReport:
    """Validate every row, then write all of them or none. ``publish`` (for publishers and
    trusted loads only) publishes new entries directly instead of leaving drafts."""
    report = ImportReport()
    parsed: list[tuple[int, int | None, EntryContent]] = []
    try:
        for i, raw in enumerate(rows, start=2):
            if i - 1 > MAX_ROWS:
                report.errors.append(RowError(i, "", f"more than {MAX_ROWS} rows; split the file"))
                break
            entry_id, content, errors = _parse_row(raw, i)
            report.errors.extend(errors)
            if content is not None:
                parsed.append((i, entry_id, content))
    except csv.Error as exc:
        raise ImportFormatError(f"unreadable CSV: {exc}") from exc
    known = {e for (e,) in (await session.execute(select(KnowledgeEntry.id))).all()}
    for i, entry_id, _ in parsed:
        if entry_id is not None and entry_id not in known:
            report.errors.append(
                RowError(i, "id", f"no entry {entry_id}; leave id empty to create")
            )
    if not parsed and not report.errors:
        report.errors.append(RowError(1, "", "no rows"))
    if report.errors:
        return report
    for _, entry_id, content in parsed:
        if entry_id is not None:
            await service.update_entry(
                session, actor=actor, entry_id=entry_id, content=content, ip=ip
            )
            report.updated += 1
        elif publish:
            await service.publish_directly(session, actor=actor, content=content, ip=ip)
            report.created += 1
        else:
            await service.create_entry(session, actor=actor, content=content, ip=ip)
            report.created += 1
    await record(session, actor=actor, action="knowledge.import", target="kb",
                 details={"created": report.created, "updated": report.updated,
                          "published": publish}, ip=ip)  # fmt: skip
    return report


# --- writing -------------------------------------------------------------------------------
async def export_rows(session: AsyncSession, *, status: str | None = None) -> list[list[str]]:
    """Header plus one row per entry, with its latest version's content."""
    statement = (
        select(KnowledgeEntry, KnowledgeVersion)
        .join(KnowledgeVersion, (KnowledgeVersion.entry_id == KnowledgeEntry.id)
              & (KnowledgeVersion.number == KnowledgeEntry.latest_version))
        .order_by(KnowledgeEntry.id)
    )  # fmt: skip
    if status:
        statement = statement.where(KnowledgeEntry.status == status)
    out = [list(COLUMNS)]
    for entry, version in (await session.execute(statement)).all():
        row = []
        for name in COLUMNS:
            if name == "id":
                value: Any = entry.id
            elif name in ("kind", "status"):
                value = getattr(entry, name)
            else:
                value = getattr(version, name)
            if isinstance(value, list):
                value = "|".join(str(v) for v in value)
            elif isinstance(value, datetime):
                value = value.isoformat()
            text = "" if value is None else str(value)
            # A cell starting like a formula would run in the editor's spreadsheet.
            row.append("'" + text if text.startswith(_FORMULA_START) else text)
        out.append(row)
    return out


def write_csv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")  # BOM: Excel then reads UTF-8


def write_xlsx(rows: list[list[str]]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet("FAQ")
    for values in rows:
        cells = []
        for value in values:
            cell = WriteOnlyCell(sheet, value=value)
            cell.data_type = "s"  # always text, never a formula
            cells.append(cell)
        sheet.append(cells)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
