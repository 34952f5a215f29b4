"""Turning a ReportResult into CSV and .xlsx files (seed: "报表数据要求均可导出到Excel").

Both formats are meant to be opened in Excel by hospital staff, hence the BOM in the CSV (Excel
reads BOM-less CSV as the ANSI code page and garbles Chinese) and the neutralised formulas: a
cell such as ``=HYPERLINK(...)`` coming from patient-entered data must never run in Excel.
"""
from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import re
import unicodedata
from urllib.parse import quote

from core.declarations import ReportResult

#: A spreadsheet treats a cell starting with one of these as a formula (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
SHEET_TITLE_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
MAX_COLUMN_WIDTH = 60
#: Control characters XML 1.0 (and so an .xlsx cell) cannot hold; tab, newline and CR can stay.
XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def format_value(value) -> str | None:
    """The text shown for a value in the page, the chart labels and the CSV (None stays None)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S" if value.second else "%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        text = f"{value:.4f}"  # enough for rates and averages, without float noise (0.30000000000000004)
        return text.rstrip("0").rstrip(".") if "." in text else text
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    return str(value)


def chart_value(value):
    """A value as ECharts needs it: numbers stay numbers, everything else becomes text."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, decimal.Decimal):
        return float(value)
    return format_value(value)


def _neutralise(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_START) else text


def to_csv(result: ReportResult) -> bytes:
    """UTF-8 CSV with a BOM, a header row of column labels and formatted, formula-safe cells."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([_neutralise(str(label)) for _key, label in result.columns])
    for row in result.rows:
        cells = []
        for key, _label in result.columns:
            value = row.get(key)
            text = format_value(value) or ""
            # Numbers are written as numbers (a negative one is not a formula); only text is prefixed.
            is_number = isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool)
            cells.append(text if is_number else _neutralise(text))
        writer.writerow(cells)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def sheet_title(title: str) -> str:
    """Excel's rules: at most 31 characters, none of []:*?/\\, no apostrophe at either end."""
    cleaned = SHEET_TITLE_FORBIDDEN.sub(" ", str(title)).strip().strip("'").strip()
    return cleaned[:31].strip() or "Report"


def _display_width(text: str) -> int:
    """Columns a text needs: CJK characters are twice as wide as Latin ones."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _xlsx_cell_value(value):
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float, decimal.Decimal, dt.date)):
        return value  # dt.datetime is a dt.date: both stay typed
    text = XML_ILLEGAL.sub("", format_value(value) or "")
    return text or None


def to_xlsx(result: ReportResult, title: str) -> bytes:
    """An .xlsx workbook: bold frozen header, fitted column widths, typed numbers and dates."""
    # openpyxl is imported when a workbook is made, not with the app: ~7 MB every process
    # (web workers, the job worker, a HIS sync) would carry for the few that export.
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    book = Workbook()
    sheet = book.active
    sheet.title = sheet_title(title)
    book.properties.title = str(title)
    widths = []
    bold = Font(bold=True)
    for col, (_key, label) in enumerate(result.columns, start=1):
        cell = sheet.cell(row=1, column=col, value=XML_ILLEGAL.sub("", str(label)))
        cell.data_type = "s"
        cell.font = bold
        widths.append(_display_width(str(label)))
    for row_number, row in enumerate(result.rows, start=2):
        for col, (key, _label) in enumerate(result.columns, start=1):
            raw = row.get(key)
            cell = sheet.cell(row=row_number, column=col, value=_xlsx_cell_value(raw))
            if isinstance(cell.value, str):
                cell.data_type = "s"  # a text starting with "=" stays text, never a formula
            if isinstance(raw, dt.datetime):
                cell.number_format = "yyyy-mm-dd hh:mm"
            elif isinstance(raw, dt.date):
                cell.number_format = "yyyy-mm-dd"
            widths[col - 1] = max(widths[col - 1], _display_width(format_value(raw) or ""))
    for col, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(col)].width = min(width + 2, MAX_COLUMN_WIDTH)
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def content_disposition(report_id: str, title: str, day: dt.date, extension: str) -> str:
    """``attachment`` with an ASCII name from the report id and the (Chinese) title per RFC 5987."""
    ascii_name = re.sub(r"[^A-Za-z0-9._-]+", "_", report_id).strip("._") or "report"
    ascii_name = f"{ascii_name}-{day.isoformat()}.{extension}"
    readable = re.sub(r'[\x00-\x1f\x7f/\\:*?"<>|]+', " ", str(title)).strip() or ascii_name
    readable = f"{readable}-{day.isoformat()}.{extension}"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(readable, safe='')}"
