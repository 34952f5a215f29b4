"""The hospital-configurable lists of the patient archive: sources, regions (county → street),
referrers and the disease catalogue, with the catalogue's CSV import.

Plain functions over the session (the tenancy layer scopes every query to the hospital), shared
by the settings pages and usable by the API or CLI. Each refusal raises SettingsInvalid with a
message per field; nothing is written then.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

import sqlalchemy as sa

from core import choices
from core.extensions import db
from core.i18n import gettext as _
from core.models import User
from plugins.patients.identity import IdentityError, normalize_phone, pypinyin
from plugins.patients.models import Disease, Referrer, Region, Source

DISEASE_CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9.\-]{1,15}$")
SOURCE_CODE_RE = re.compile(r"^[a-z0-9_]{1,32}$")
DISEASE_CSV_LIMIT = 2 * 1024 * 1024
CODE_HEADERS = {"code", "icd", "icd10", "icd-10", "编码", "代码", "疾病编码", "icd编码", "icd10编码"}
NAME_HEADERS = {"name", "名称", "疾病名称", "诊断名称"}


class SettingsInvalid(ValueError):
    """Input refused; ``errors`` maps each field to its message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _name(value, limit: int, field: str = "name") -> str:
    text = (value or "").strip()
    if not text:
        raise SettingsInvalid({field: _("Enter a name.")})
    if len(text) > limit:
        raise SettingsInvalid({field: _("At most %(n)d characters.", n=limit)})
    return text


def set_active(row, active: bool) -> None:
    """Deactivate (hide from choices, keep for existing records) or reactivate a row."""
    row.active = bool(active)
    db.session.commit()


# -- sources ------------------------------------------------------------------------------------
def ordered_sources(*, active_only: bool = False) -> list[Source]:
    return choices.ordered(Source, active_only=active_only)


def _source_code(name: str, wanted: str | None) -> str:
    """The code given, else one made from the name's pinyin (抖音 → douyin), made unique."""
    taken = set(db.session.execute(sa.select(Source.code)).scalars())
    if wanted:
        code = wanted.strip().lower()
        if not SOURCE_CODE_RE.match(code):
            raise SettingsInvalid({"code": _("Codes are 1 to 32 lowercase letters, digits or '_'.")})
        if code in taken:
            raise SettingsInvalid({"code": _("The code “%(code)s” is already used.", code=code)})
        return code
    base = re.sub(r"[^a-z0-9_]", "", "".join(pypinyin().lazy_pinyin(name)).lower())[:28] or "source"
    code, n = base, 2
    while code in taken:
        code, n = f"{base}_{n}", n + 1
    return code


def add_source(name: str, code: str | None = None) -> Source:
    name = _name(name, 64)
    if db.session.execute(sa.select(Source.id).where(Source.name == name)).first():
        raise SettingsInvalid({"name": _("A source named “%(name)s” exists already.", name=name)})
    source = Source(name=name, code=_source_code(name, code), position=choices.next_position(Source))
    db.session.add(source)
    db.session.commit()
    return source


def rename_source(source: Source, name: str) -> None:
    name = _name(name, 64)
    if db.session.execute(sa.select(Source.id).where(Source.name == name, Source.id != source.id)).first():
        raise SettingsInvalid({"name": _("A source named “%(name)s” exists already.", name=name)})
    source.name = name
    db.session.commit()


def move_source(source: Source, step: int) -> None:
    """Move a source one place up (-1) or down (+1) in the list staff choose from."""
    choices.move(source, step)
    db.session.commit()


# -- regions ------------------------------------------------------------------------------------
def region_tree(*, active_only: bool = False) -> list[tuple[Region, list[Region]]]:
    """Counties (区县) with their streets/communities, by name."""
    stmt = sa.select(Region).order_by(Region.name, Region.id)
    if active_only:
        stmt = stmt.where(Region.active.is_(True))
    rows = db.session.execute(stmt).scalars().all()
    counties = [r for r in rows if r.parent_id is None]
    return [(c, [r for r in rows if r.parent_id == c.id]) for c in counties]


def _check_sibling_name(name: str, parent_id: int | None, exclude_id: int | None = None) -> None:
    stmt = sa.select(Region.id).where(Region.name == name, Region.parent_id.is_(None) if parent_id is None
                                      else Region.parent_id == parent_id)
    if exclude_id:
        stmt = stmt.where(Region.id != exclude_id)
    if db.session.execute(stmt).first():
        raise SettingsInvalid({"name": _("“%(name)s” exists already at this level.", name=name)})


def add_region(name: str, parent_id=None) -> Region:
    """A county (no parent) or a street/community under a county: two levels only."""
    name = _name(name, 64)
    parent = None
    if parent_id not in (None, "", 0, "0"):
        try:
            parent = db.session.execute(sa.select(Region).where(Region.id == int(parent_id))).scalar_one_or_none()
        except (TypeError, ValueError):
            parent = None
        if parent is None:
            raise SettingsInvalid({"parent_id": _("Unknown county.")})
        if parent.parent_id is not None:
            raise SettingsInvalid({"parent_id": _("Streets and communities go under a county, not under a street.")})
    _check_sibling_name(name, parent.id if parent else None)
    region = Region(name=name, parent_id=parent.id if parent else None)
    db.session.add(region)
    db.session.commit()
    return region


def rename_region(region: Region, name: str) -> None:
    name = _name(name, 64)
    _check_sibling_name(name, region.parent_id, exclude_id=region.id)
    region.name = name
    db.session.commit()


# -- referrers ----------------------------------------------------------------------------------
def save_referrer(referrer: Referrer | None, *, name, phone=None, user_id=None, notes=None) -> Referrer:
    """Create or update a referrer (客情人): an outside person, or a staff member (``user_id``)."""
    errors: dict[str, str] = {}
    try:
        clean_name = _name(name, 64)
    except SettingsInvalid as exc:
        errors.update(exc.errors)
        clean_name = None
    clean_phone = None
    if phone and phone.strip():
        try:
            clean_phone = normalize_phone(phone)
        except IdentityError as exc:
            errors["phone"] = str(exc)
    user = None
    if user_id not in (None, "", 0, "0"):
        try:
            user = db.session.execute(sa.select(User).where(User.id == int(user_id))).scalar_one_or_none()
        except (TypeError, ValueError):
            user = None
        if user is None:
            errors["user_id"] = _("Unknown staff member.")
    clean_notes = (notes or "").strip() or None
    if clean_notes and len(clean_notes) > 255:
        errors["notes"] = _("At most %(n)d characters.", n=255)
    if errors:
        raise SettingsInvalid(errors)
    referrer = referrer or Referrer()
    referrer.name, referrer.phone, referrer.notes = clean_name, clean_phone, clean_notes
    referrer.user_id = user.id if user else None
    db.session.add(referrer)
    db.session.commit()
    return referrer


# -- the disease catalogue ----------------------------------------------------------------------
def disease_code(value) -> str:
    """An ICD-10 code (M51.2) or a hospital's own code, upper-cased; SettingsInvalid otherwise."""
    code = (value or "").strip().upper()
    if not DISEASE_CODE_RE.match(code):
        raise SettingsInvalid({"code": _("“%(code)s” is not a disease code: 2 to 16 letters, digits, '.' or '-' "
                                         "(e.g. M51.2 or a hospital code such as H-001).", code=(value or "").strip())})
    return code


def search_diseases(q: str = "", *, include_inactive: bool = True):
    """The catalogue, by code; ``q`` matches a code prefix or any part of the name."""
    stmt = sa.select(Disease).order_by(Disease.code)
    q = (q or "").strip()
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(sa.or_(Disease.code.like(escaped.upper() + "%", escape="\\"),
                                 Disease.name.like("%" + escaped + "%", escape="\\")))
    if not include_inactive:
        stmt = stmt.where(Disease.active.is_(True))
    return stmt


def add_disease(code, name, *, commit: bool = True) -> Disease:
    errors: dict[str, str] = {}
    try:
        code = disease_code(code)
        if db.session.execute(sa.select(Disease.id).where(Disease.code == code)).first():
            errors["code"] = _("The code %(code)s is already in the catalogue.", code=code)
    except SettingsInvalid as exc:
        errors.update(exc.errors)
    try:
        name = _name(name, 128)
    except SettingsInvalid as exc:
        errors.update(exc.errors)
    if errors:
        raise SettingsInvalid(errors)
    disease = Disease(code=code, name=name, custom=True, active=True)
    db.session.add(disease)
    if commit:
        db.session.commit()
    else:
        db.session.flush()
    return disease


def rename_disease(disease: Disease, name) -> None:
    disease.name = _name(name, 128)
    db.session.commit()


@dataclass
class DiseaseImport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0


class DiseaseImportError(ValueError):
    """The file was refused as a whole; ``errors`` are (line number or None, message) pairs."""

    def __init__(self, errors: list[tuple[int | None, str]], *, too_large: bool = False):
        super().__init__("; ".join(m for _line, m in errors))
        self.errors = errors
        self.too_large = too_large


def _decode(raw: bytes) -> str:
    """Excel saves CSV as GBK on Chinese Windows and as UTF-8 elsewhere: accept both."""
    if b"\x00" in raw:
        raise DiseaseImportError([(None, _("This is not a text (CSV) file."))])
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DiseaseImportError([(None, _("The file is neither UTF-8 nor GBK text; save it as CSV (UTF-8) and try again."))])


def read_disease_csv(raw: bytes) -> list[tuple[int, str, str]]:
    """Check a catalogue CSV (header ``code,name``) completely; return its (line, code, name)
    rows or raise DiseaseImportError with every problem found."""
    if len(raw) > DISEASE_CSV_LIMIT:
        raise DiseaseImportError([(None, _("The file is larger than %(mb)d MB; split it into smaller files.",
                                           mb=DISEASE_CSV_LIMIT // (1024 * 1024)))], too_large=True)
    if not raw.strip():
        raise DiseaseImportError([(None, _("The file is empty."))])
    text = _decode(raw)
    try:
        lines = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise DiseaseImportError([(None, _("The file is not valid CSV: %(error)s", error=str(exc)))]) from None
    header = [h.strip().lower() for h in lines[0]] if lines else []
    code_col = next((i for i, h in enumerate(header) if h in CODE_HEADERS), None)
    name_col = next((i for i, h in enumerate(header) if h in NAME_HEADERS), None)
    if code_col is None or name_col is None:
        raise DiseaseImportError([(1, _("The first line must be a header naming the columns “code” and “name”."))])
    errors: list[tuple[int, str]] = []
    rows: list[tuple[int, str, str]] = []
    seen: dict[str, int] = {}
    for number, cells in enumerate(lines[1:], start=2):
        if not any(c.strip() for c in cells):
            continue
        raw_code = cells[code_col] if code_col < len(cells) else ""
        name = (cells[name_col] if name_col < len(cells) else "").strip()
        try:
            code = disease_code(raw_code)
        except SettingsInvalid as exc:
            errors.append((number, exc.errors["code"]))
            continue
        if not name:
            errors.append((number, _("%(code)s: the name is empty.", code=code)))
        elif len(name) > 128:
            errors.append((number, _("%(code)s: the name has more than 128 characters.", code=code)))
        elif code in seen:
            errors.append((number, _("%(code)s appears twice in the file (line %(line)d).", code=code, line=seen[code])))
        else:
            seen[code] = number
            rows.append((number, code, name))
    if errors:
        raise DiseaseImportError(errors)
    if not rows:
        raise DiseaseImportError([(None, _("The file has a header but no diseases."))])
    return rows


def import_diseases_csv(raw: bytes) -> DiseaseImport:
    """All or nothing: new codes join the catalogue as the hospital's own entries, known codes
    take the file's name (and are reactivated)."""
    rows = read_disease_csv(raw)
    known = {d.code: d for d in db.session.execute(sa.select(Disease)).scalars()}
    result = DiseaseImport()
    for _line, code, name in rows:
        disease = known.get(code)
        if disease is None:
            db.session.add(Disease(code=code, name=name, custom=True, active=True))
            result.added += 1
        elif disease.name != name or not disease.active:
            disease.name, disease.active = name, True
            result.updated += 1
        else:
            result.unchanged += 1
    db.session.commit()
    return result
