"""Export of the filtered patient list as .xlsx or CSV, following the privacy rule: phones and ID
numbers are masked unless the user holds patients.view_sensitive, and an unmasked export is
written to the audit log (how many rows, which filters).

The column headers are fixed Chinese names, like those of a hospital's own spreadsheets: an
export can be edited and imported again (the importer recognises every header), whatever
language the exporting user had chosen.
"""
from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Callable
from datetime import date

import sqlalchemy as sa

from core import audit
from core.clock import local_today
from core.extensions import db
from core.models import Department
from core.report_export import FORMULA_START, XML_ILLEGAL
from plugins.patients import services
from plugins.patients.identity import age_on
from plugins.patients.models import Referrer, Region, Source

COLUMNS = [("id", "编号"), ("name", "姓名"), ("gender", "性别"), ("birth_date", "出生日期"), ("age", "年龄"),
           ("id_number", "身份证号"), ("phone", "手机"), ("phone2", "电话2"), ("insurance_no", "医保卡号"),
           ("region", "地区"), ("address", "地址"), ("occupation", "职业"), ("source", "来源"),
           ("referrer", "介绍人"), ("department", "科室"), ("tags", "标签"), ("key_patient", "重点病人"),
           ("sms_consent", "营销短信"), ("notes", "备注"), ("external_id", "外部编号"), ("created_at", "登记时间")]
GENDER_NAMES = {"M": "男", "F": "女", "U": "未知"}
CONSENT_NAMES = {True: "同意", False: "退订", None: ""}  # read back by the importer (services.CONSENT_VALUES)
WIDTHS = {"name": 12, "birth_date": 12, "id_number": 22, "phone": 15, "phone2": 15, "insurance_no": 18,
          "region": 18, "address": 30, "notes": 30, "created_at": 17}
BATCH = 500
XLSX_MAX_ROWS = 1_048_575  # an Excel sheet's rows, less the header


def safe_text(text: str | None) -> str | None:
    """A text a spreadsheet will show as text: one starting like a formula gets a leading '."""
    if text is None:
        return None
    text = XML_ILLEGAL.sub("", text)
    return "'" + text if text.startswith(FORMULA_START) else text


def count(query: services.PatientQuery) -> int:
    stmt = services.search(query).order_by(None)
    return db.session.execute(sa.select(sa.func.count()).select_from(stmt.subquery())).scalar_one()


def log_unmasked_export(rows: int, filters: dict, fmt: str) -> None:
    """One audit row per unmasked export (committed before the file is sent)."""
    note = f"unmasked {fmt} export of {rows} patient(s); filters: {json.dumps(filters, ensure_ascii=False)}"
    audit.log_event("export", "Patient", note=note[:255], after={"rows": rows, "filters": filters, "format": fmt})
    db.session.commit()


def _names() -> dict[str, dict[int, str]]:
    """Names of the hospital's settings by id, read once instead of once per patient."""
    regions = {r.id: r for r in db.session.execute(sa.select(Region.id, Region.name, Region.parent_id))}
    return {
        "region": {i: (f"{regions[r.parent_id].name}/{r.name}" if r.parent_id in regions else r.name)
                   for i, r in regions.items()},
        "source": dict(db.session.execute(sa.select(Source.id, Source.name)).all()),
        "referrer": dict(db.session.execute(sa.select(Referrer.id, Referrer.name)).all()),
        "department": dict(db.session.execute(sa.select(Department.id, Department.name)).all()),
    }


def rows(query: services.PatientQuery, reveal: bool, progress: Callable[[int], None] | None = None):
    """Each patient of the filtered list as a list of cell values (texts already formula-safe),
    read in batches so a large list never sits in memory at once. ``progress(rows so far)`` is
    called after each batch."""
    names = _names()
    today = local_today()
    stmt = services.search(query).execution_options(yield_per=BATCH)
    for done, patient in enumerate(db.session.execute(stmt).scalars(), start=1):
        if progress is not None and done % BATCH == 0:
            progress(done)
        values = {
            "id": patient.id, "name": patient.name, "gender": GENDER_NAMES.get(patient.gender, patient.gender),
            "birth_date": patient.birth_date, "age": age_on(patient.birth_date, today),
            "id_number": services.shown_id_number(patient, reveal),
            "phone": services.shown_phone(patient, reveal, "phone"),
            "phone2": services.shown_phone(patient, reveal, "phone2"),
            "insurance_no": services.shown_insurance_no(patient, reveal), "region": names["region"].get(patient.region_id),
            "address": patient.address, "occupation": patient.occupation,
            "source": names["source"].get(patient.source_id), "referrer": names["referrer"].get(patient.referrer_id),
            "department": names["department"].get(patient.department_id),
            "tags": "、".join(t.name for t in patient.tags), "key_patient": "是" if patient.key_patient else "否",
            "sms_consent": CONSENT_NAMES[patient.sms_consent],
            "notes": patient.notes, "external_id": patient.external_id,
            "created_at": patient.created_at.replace(microsecond=0) if patient.created_at else None,
        }
        yield [safe_text(v) if isinstance(v, str) else v for v in (values[key] for key, _label in COLUMNS)]


def csv_chunks(query: services.PatientQuery, reveal: bool, progress: Callable[[int], None] | None = None):
    """The CSV as UTF-8 chunks, starting with a BOM (Excel on Chinese Windows needs it)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([label for _key, label in COLUMNS])
    yield ("\ufeff" + buffer.getvalue()).encode("utf-8")
    for row in rows(query, reveal, progress):
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(["" if v is None else (v.isoformat(" ") if hasattr(v, "hour") else
                                               v.isoformat() if isinstance(v, date) else v) for v in row])
        yield buffer.getvalue().encode("utf-8")


def xlsx_file(query: services.PatientQuery, reveal: bool, out=None, progress: Callable[[int], None] | None = None):
    """The workbook written row by row (openpyxl write-only mode) to ``out`` (default: a
    temporary file), rewound."""
    from openpyxl import Workbook  # imported when needed: see core.report_export.to_xlsx
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    book = Workbook(write_only=True)
    sheet = book.create_sheet("患者档案")
    for index, (key, _label) in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = WIDTHS.get(key, 10)
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for _key, label in COLUMNS:
        cell = WriteOnlyCell(sheet, value=label)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for row in rows(query, reveal, progress):
        sheet.append(row)
    if out is None:
        out = tempfile.TemporaryFile()  # noqa: SIM115  (the response sends, then closes it)
    book.save(out)
    out.seek(0)
    return out


# -- in the background ------------------------------------------------------------------------------
EXPORT_TASK = "patients.export"
INLINE_ROWS = 20_000  # up to this many patients the file is sent at once; more are made by a task
MIMETYPES = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             "csv": "text/csv; charset=utf-8"}


def inline_rows() -> int:
    from core.exports import setting
    return setting("HCRM_EXPORT_INLINE_ROWS", INLINE_ROWS, int)


def export_task(hospital, *, filters: dict, fmt: str) -> None:
    """The queued export, run as its requester (``as_user``): their data scope decides which
    patients, their permission whether numbers are unmasked -- as of now, not of the click."""
    from core import exports, queue
    from plugins.patients.query_args import query_from_args
    if fmt not in MIMETYPES:
        raise ValueError(f"unknown export format {fmt!r}")
    query = query_from_args(filters)
    reveal = services.may_see_sensitive()
    total = count(query)
    queue.progress(0, total)
    if reveal:
        log_unmasked_export(total, filters, fmt)

    def report(done: int) -> None:
        queue.progress(done, total)

    def produce(out) -> None:
        if fmt == "xlsx":
            xlsx_file(query, reveal, out=out, progress=report)
        else:
            for chunk in csv_chunks(query, reveal, progress=report):
                out.write(chunk)

    exports.save(produce, download_name=f"patients-{local_today().isoformat()}.{fmt}", mimetype=MIMETYPES[fmt],
                 rows=total)
