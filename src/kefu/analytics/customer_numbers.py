"""Customer numbers leaving behaviour analytics (a saved segment, a cluster): masked for roles
that may not take them, as CSV or Excel for those that may. One place, so the segment and
the cluster exports mask and encode alike."""

from __future__ import annotations

import csv
import io

from fastapi.responses import Response
from openpyxl import Workbook

FORMATS = ("csv", "xlsx")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def masked(customer_no: str) -> str:
    """Enough to tell two customers apart, not enough to address one."""
    return customer_no[:3] + "****" + customer_no[-2:] if len(customer_no) > 6 else "****"


def export_response(numbers: list[str], fmt: str, stem: str) -> Response:
    """The numbers as a download: one column ``customer_no`` (``stem`` names the file)."""
    if fmt == "xlsx":
        book = Workbook(write_only=True)
        sheet = book.create_sheet("customers")
        sheet.append(["customer_no"])
        for n in numbers:
            sheet.append([n])  # text, not a number: leading zeros and the letter stay
        out = io.BytesIO()
        book.save(out)
        body, media = out.getvalue(), XLSX
    elif fmt == "csv":
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow(["customer_no"])
        writer.writerows([n] for n in numbers)
        body, media = text.getvalue().encode("utf-8-sig"), "text/csv; charset=utf-8"  # BOM: Excel
    else:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    return Response(body, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="{stem}.{fmt}"'})  # fmt: skip
