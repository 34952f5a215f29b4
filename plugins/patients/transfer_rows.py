"""Reading an uploaded spreadsheet and turning its cells into patient data for the importer.

Spreadsheets are messy in known ways: Excel keeps an ID number typed as a number as a float that
has lost its last digits (4.30621199003071E+17), turns phones into 13812345678.0, stores dates as
datetimes or day counts, and Chinese CSV files come as UTF-8 (with or without a BOM) or GBK.
Each of those is read back as the text the user meant, or refused with a reason.
"""
from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

import sqlalchemy as sa

from core.extensions import db
from core.i18n import gettext as _
from core.i18n import lazy_gettext as _l
from core.i18n import lazy_pgettext
from core.models import Department
from core.spreadsheets import (  # the generic part of keeping and reading an upload
    EXACT_FLOAT_LIMIT,
    SpreadsheetRefused,
    cell_text,
    iter_rows,
    refuse_counts,
    sheet_limits,
    store_file,  # noqa: F401  (re-exported: transfer_services uses it from here)
)
from plugins.patients import services
from plugins.patients.identity import IdentityError, parse_id_number
from plugins.patients.models import Referrer, Region, Source

TARGETS = {
    "ignore": _l("(ignore this column)"), "name": lazy_pgettext("person", "Name"), "gender": _l("Gender"),
    "birth_date": _l("Birth date"), "id_number": _l("ID number"), "phone": _l("Phone"),
    "phone2": _l("Second phone"), "insurance_no": _l("Insurance number"), "region": _l("Region"),
    "address": _l("Address"), "occupation": _l("Occupation"), "source": _l("Source"),
    "referrer": _l("Referrer"), "department": _l("Department"), "tags": _l("Tags"),
    "key_patient": _l("Key patient"), "sms_consent": _l("Marketing SMS"), "notes": _l("Notes"), "external_id": _l("HIS patient ID"),
}
EXTRA_LABELS = {"duplicate": _l("Duplicate")}
#: clean_patient's field names → the importer's target fields.
FIELD_OF = {"region_id": "region", "source_id": "source", "referrer_id": "referrer", "department_id": "department"}
TEXT_FIELDS = ("name", "address", "occupation", "notes")
NUMBER_FIELDS = ("id_number", "phone", "phone2", "insurance_no", "external_id")

#: Header names (normalised: lower case, no spaces or punctuation) suggesting each field.
SUGGESTIONS = {
    "name": "姓名 名字 患者姓名 病人姓名 客户姓名 name patientname fullname",
    "gender": "性别 gender sex",
    "birth_date": "出生日期 生日 出生年月日 出生年月 birthdate birthday dateofbirth dob",
    "id_number": "身份证号 身份证 身份证号码 身份证件号 证件号 证件号码 idnumber idno idcard nationalid",
    "phone": "手机 手机号 手机号码 电话 联系电话 电话号码 移动电话 phone mobile mobilephone tel telephone "
             "phonenumber cellphone",
    "phone2": "电话2 手机2 备用电话 其他电话 联系电话2 固定电话 固话 座机 phone2 secondphone otherphone landline",
    "insurance_no": "医保卡号 医保号 医保卡 医保编号 社保卡号 insuranceno insurancenumber insurance insurancecard",
    "region": "地区 区域 所属地区 区县街道 街道 社区 region district area",
    "address": "地址 住址 家庭住址 联系地址 address homeaddress",
    "occupation": "职业 occupation job profession",
    "source": "来源 来源渠道 渠道 客户来源 source channel",
    "referrer": "介绍人 推荐人 客情人 转介人 referrer referredby",
    "department": "科室 所属科室 就诊科室 department dept",
    "tags": "标签 tags tag labels",
    "key_patient": "重点病人 重点患者 是否重点 是否重点病人 keypatient",
    "sms_consent": "营销短信 短信同意 同意短信 接收短信 短信订阅 是否接收短信 smsconsent sms marketingsms",
    "notes": "备注 说明 notes note remarks remark comment comments memo",
    "external_id": "外部编号 his编号 病案号 门诊号 患者编号 病历号 externalid hisid hispatientid",
}
GENDER_WORDS = {"男": "M", "男性": "M", "m": "M", "male": "M", "女": "F", "女性": "F", "f": "F", "female": "F",
                "未知": "U", "u": "U", "unknown": "U"}
YES_WORDS = ("是", "y", "yes", "1", "true", "重点", "√", "✓")
NO_WORDS = ("否", "n", "no", "0", "false", "")
TAG_SEPARATORS = re.compile(r"[,;，；、]")
DATE_RE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T].*)?")
SCIENTIFIC_RE = re.compile(r"[+-]?\d+(\.\d+)?[eE][+]?\d+")


#: A file (or a mapping) that cannot be imported; the message says why and what to do. The core's
#: class itself, so that the file checks of core.spreadsheets are caught with the importer's own.
UploadRefused = SpreadsheetRefused


def target_label(field: str) -> str:
    return str(TARGETS.get(field) or EXTRA_LABELS.get(field) or field)


def _normalise(header: str) -> str:
    text = re.sub(r"[（(].*?[)）]", "", str(header or "")).lower()
    return re.sub(r"[\s_\-:：*#.·/]", "", text)


def suggest_mapping(headers: list[str]) -> list[str]:
    """A target field per column guessed from its header (Chinese or English); "ignore" when
    nothing fits or the field is taken already (a second phone column becomes phone2)."""
    known = {word: field for field, words in SUGGESTIONS.items() for word in words.split()}
    known.update({_normalise(str(label)): field for field, label in TARGETS.items() if field != "ignore"})
    mapping: list[str] = []
    for header in headers:
        field = known.get(_normalise(header), "ignore")
        if field == "phone" and "phone" in mapping:
            field = "phone2"
        mapping.append("ignore" if field != "ignore" and field in mapping else field)
    return mapping


# -- storing and reading the file ---------------------------------------------------------------
def _raw_rows(path: Path, kind: str):
    """Every row of the first sheet (or the CSV) as a tuple of cell values, within the limits."""
    return iter_rows(path, kind, sheet_limits())


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def read_head(path: Path, kind: str, rows: int) -> tuple[list[str], list[list[str]]]:
    """The header row (blank headers named after their column letter) and the first ``rows``
    data rows as display text."""
    source = _raw_rows(path, kind)
    try:
        first = next(source, None)
        if first is None or all(_blank(v) for v in first):
            raise UploadRefused(_("The first row must hold the column names (姓名, 性别, 手机 …)."))
        cells = list(first)
        while cells and _blank(cells[-1]):
            cells.pop()
        refuse_counts(None, len(cells), sheet_limits())
        from openpyxl.utils import get_column_letter  # openpyxl is imported when a file is read
        headers = [cell_text(v) or _("Column %(letter)s", letter=get_column_letter(i + 1)) for i, v in enumerate(cells)]
        sample = []
        for values in source:
            if len(sample) >= rows:
                break
            if not all(_blank(v) for v in values):
                sample.append([cell_text(v) or "" for v in _fit(values, len(headers))])
        return headers, sample
    except UploadRefused:
        raise
    except Exception as exc:  # a damaged sheet inside a valid zip
        raise UploadRefused(_("The file cannot be read (%(reason)s).", reason=type(exc).__name__)) from None
    finally:
        source.close()


def _fit(values, width: int) -> list:
    values = list(values)[:width]
    return values + [None] * (width - len(values))


def iter_data_rows(path: Path, kind: str, width: int):
    """(spreadsheet row number, values) for every non-blank row below the header."""
    for number, values in enumerate(_raw_rows(path, kind), start=1):
        if number > 1 and not all(_blank(v) for v in values):
            yield number, _fit(values, width)


# -- from cells to patient data ------------------------------------------------------------------
def number_text(value) -> tuple[str, bool]:
    """An ID, phone or card number as typed, and whether it may have lost digits: Excel keeps a
    number typed into a number cell to 15 significant digits. Raises UploadRefused when the
    digits are gone for sure (scientific notation in a CSV)."""
    if isinstance(value, float) and abs(value) >= EXACT_FLOAT_LIMIT and value.is_integer():
        return str(int(value)), True
    text = (cell_text(value) or "").lstrip("'")
    if SCIENTIFIC_RE.fullmatch(text):
        raise UploadRefused(lost_digits(text))
    whole = re.fullmatch(r"(\d+)\.0+", text)
    return (whole.group(1) if whole else text), False


def lost_digits(shown) -> str:
    return _("It was stored as a number and lost its last digits (%(value)s): format the column as text "
             "in the spreadsheet and type the number again.", value=shown)


def date_text(value) -> str | None:
    """A birth date as YYYY-MM-DD (services.clean_patient then refuses impossible ones)."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if float(value).is_integer() and 10000101 <= value <= 29991231:  # 19900307 typed as a number
            value = str(int(value))
        elif 1 <= value < 2958466 and not 1000 <= value < 3000:  # Excel's day count (not a bare year)
            from openpyxl.utils.datetime import from_excel
            return from_excel(value).date().isoformat()
    text = cell_text(value)
    if not text:
        return None
    match = DATE_RE.fullmatch(text) or re.fullmatch(r"(\d{4})(\d{2})(\d{2})", text)
    return f"{match.group(1)}-{int(match.group(2)):02d}-{int(match.group(3)):02d}" if match else text


def _valid_id(text: str) -> bool:
    try:
        parse_id_number(text)
    except IdentityError:
        return False
    return True


class _Index:
    """Names (and codes) of one kind of hospital setting → id; a name used twice is ambiguous."""

    def __init__(self):
        self.ids: dict[str, set[int]] = {}

    def add(self, key, ident: int) -> None:
        if key:
            self.ids.setdefault(str(key).strip().casefold(), set()).add(ident)

    def find(self, text: str, unknown: str) -> int:
        found = self.ids.get(text.strip().casefold(), set())
        if not found:
            raise UploadRefused(unknown)
        if len(found) > 1:
            raise UploadRefused(_("“%(value)s” matches several entries: be more precise (a code, or "
                                  "county/street for a region).", value=text))
        return next(iter(found))


class RowReader:
    """Turns rows into create_patient input with the current hospital's settings (read once)."""

    def __init__(self, mapping: list[str], *, allow_duplicates: bool = False):
        self.columns = [(i, f) for i, f in enumerate(mapping) if f != "ignore"]
        self.allow_duplicates = allow_duplicates
        self.seen: dict[tuple, int] = {}
        self.indexes = {name: _Index() for name in ("department", "source", "referrer", "region")}
        for row in db.session.execute(sa.select(Department.id, Department.code, Department.name)):
            self.indexes["department"].add(row.code, row.id)
            self.indexes["department"].add(row.name, row.id)
        for row in db.session.execute(sa.select(Source.id, Source.code, Source.name)):
            self.indexes["source"].add(row.code, row.id)
            self.indexes["source"].add(row.name, row.id)
        for row in db.session.execute(sa.select(Referrer.id, Referrer.name)):
            self.indexes["referrer"].add(row.name, row.id)
        regions = {r.id: r for r in db.session.execute(sa.select(Region.id, Region.name, Region.parent_id))}
        for region in regions.values():
            self.indexes["region"].add(region.name, region.id)
            parent = regions.get(region.parent_id)
            if parent is not None:
                self.indexes["region"].add(f"{parent.name}/{region.name}", region.id)

    def _value(self, field: str, value):
        if field in TEXT_FIELDS:
            return cell_text(value)
        if field in NUMBER_FIELDS:
            text, approximate = number_text(value)
            if field == "id_number":
                text = re.sub(r"\s", "", text).upper()
            if approximate and not (field == "id_number" and _valid_id(text)):
                # An ID number whose check digit still matches came through whole; anything else
                # this long cannot be trusted.
                raise UploadRefused(lost_digits(format(value, ".15g")))
            return text or None
        if field == "birth_date":
            return date_text(value)
        text = cell_text(value) or ""
        if field == "gender":
            if text.lower() not in GENDER_WORDS and text:
                raise UploadRefused(_("Write 男 or 女 (M or F); leave it empty when unknown."))
            return GENDER_WORDS.get(text.lower(), "U")
        if field == "sms_consent":
            try:
                return services.parse_consent(value)
            except ValueError:
                raise UploadRefused(_("Write 同意 or 是 (agreed), 退订 or 否 (opted out); leave it empty when "
                                      "not asked.")) from None
        if field == "key_patient":
            if value is True or value is False:
                return value
            if text.lower() not in YES_WORDS + NO_WORDS:
                raise UploadRefused(_("Write 是 or 否 (yes/no, 1/0)."))
            return text.lower() in YES_WORDS
        if field == "tags":
            tags = [t.strip() for t in TAG_SEPARATORS.split(text) if t.strip()]
            for tag in tags:
                if len(tag) > 32:
                    raise UploadRefused(_("A tag has at most 32 characters (“%(tag)s”).", tag=tag))
            return tags
        return self._reference(field, text) if text else None

    def _reference(self, field: str, text: str) -> int:
        unknown = {
            "department": _("No department named or coded “%(value)s” in this hospital.", value=text),
            "source": _("No source named “%(value)s” in this hospital (add it in the settings first).", value=text),
            "referrer": _("No referrer named “%(value)s” in this hospital (add it in the settings first).",
                          value=text),
            "region": _("No region “%(value)s” in this hospital: write it as county/street, as in the settings.",
                        value=text),
        }[field]
        if field == "region":
            text = "/".join(part.strip() for part in re.split(r"[/／]", text))
        return self.indexes[field].find(text, unknown)

    def translate(self, values: list) -> tuple[dict, dict[str, str]]:
        """create_patient input from a row, and the fields that could not be read."""
        data: dict = {}
        errors: dict[str, str] = {}
        for index, field in self.columns:
            try:
                value = self._value(field, values[index])
            except UploadRefused as exc:
                errors[field] = str(exc)
                continue
            key = f"{field}_id" if field in ("region", "source", "referrer", "department") else field
            data[key] = value
        return data, errors

    def check(self, row_number: int, values: list) -> tuple[dict, list[str]]:
        """Translate and validate a row as create_patient would, then look for duplicates in
        the file and (unless allowed) in the hospital. Returns the data and the reasons it is refused."""
        data, errors = self.translate(values)
        try:
            clean = services.clean_patient({k: v for k, v in data.items() if k != "tags"})
        except services.PatientInvalid as exc:
            for field, message in exc.errors.items():
                errors.setdefault(FIELD_OF.get(field, field), message)
        else:
            if not errors and not self.allow_duplicates:
                duplicate = self._duplicate(row_number, clean)
                if duplicate:
                    errors["duplicate"] = duplicate
        order = [f for _i, f in self.columns] + ["name", "duplicate"]
        ordered = sorted(errors.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order))
        return data, [f"{target_label(field)}: {message}" for field, message in ordered]

    def _duplicate(self, row_number: int, clean: dict) -> str | None:
        keys = []
        if clean.get("id_number"):
            keys.append(("id", clean["id_number"]))
        if clean.get("phone"):
            keys.append(("name+phone", clean["name"], clean["phone"]))
        for key in keys:
            if key in self.seen:
                if key[0] == "id":
                    return _("Same ID number as row %(row)d.", row=self.seen[key])
                return _("Same name and phone as row %(row)d.", row=self.seen[key])
        for key in keys:
            self.seen[key] = row_number
        matches = services.find_duplicates(id_number=clean.get("id_number"), name=clean.get("name"),
                                           phone=clean.get("phone"))
        if matches:
            return _("Possible duplicate of %(patients)s, already registered (same ID number, or name and "
                     "phone). Tick “import duplicates anyway” to import such rows all the same.",
                     patients=", ".join(f"#{p.id} {p.name}" for p in matches[:3]))
        return None
