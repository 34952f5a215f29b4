"""The import template: a spreadsheet with the columns the importer recognises and one example
row, built from the importer's own column definitions (transfer_rows), so the two cannot drift.

Headers are the first, Chinese, name each field is recognised by; the example is a made-up
patient every check accepts (a valid ID number, a mobile number), with the values that would need
the hospital's own settings (region, source, referrer, department) left empty.
"""
from __future__ import annotations

import csv
import io

from plugins.patients.identity import ID_CHECK, ID_WEIGHTS
from plugins.patients.transfer_rows import NUMBER_FIELDS, SUGGESTIONS, TARGETS


def _example_id_number(first17: str = "11010119900307001") -> str:
    return first17 + ID_CHECK[sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


EXAMPLE = {"name": "张三", "gender": "男", "birth_date": "1990-03-07", "id_number": _example_id_number(),
           "phone": "13800138000", "phone2": "", "insurance_no": "YB0000000001", "region": "", "address": "某市某区某路1号",
           "occupation": "教师", "source": "", "referrer": "", "department": "", "tags": "高血压、复诊",
           "key_patient": "否", "sms_consent": "同意", "notes": "示例行：导入前请删除", "external_id": ""}


def columns() -> list[tuple[str, str]]:
    """(field, header) of every importable field, in the importer's order."""
    return [(field, SUGGESTIONS[field].split()[0]) for field in TARGETS if field != "ignore"]


def csv_bytes() -> bytes:
    """The template as CSV, UTF-8 with a BOM (Excel on Chinese Windows needs it)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([header for _field, header in columns()])
    writer.writerow([EXAMPLE[field] for field, _header in columns()])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def xlsx_bytes() -> bytes:
    """The template as a workbook; number-like columns are text cells, so Excel keeps every digit
    of what is typed there."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    book = Workbook()
    sheet = book.active
    sheet.title = "患者导入"
    for index, (field, header) in enumerate(columns(), start=1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = 20 if field in NUMBER_FIELDS or field == "address" else 12
        sheet.cell(row=1, column=index, value=header).font = Font(bold=True)
        cell = sheet.cell(row=2, column=index, value=EXAMPLE[field] or None)
        if field in NUMBER_FIELDS:
            cell.number_format = "@"
            for row in range(3, 1001):  # the rows a user fills in keep the text format too
                sheet.cell(row=row, column=index).number_format = "@"
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
