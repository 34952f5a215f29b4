"""Reading an uploaded spreadsheet (.xlsx or CSV) without letting the file decide the cost.

An .xlsx is a zip archive: one megabyte of it can inflate to a gigabyte of sheet XML (a "zip
bomb"), and a parser asked to read it spends a minute and hundreds of megabytes on one
request. :func:`check_xlsx` looks at the archive's directory first — what each member says it
inflates to, and how much that is for its compressed size — and at the sheet's declared
dimension, before a single cell is parsed; :func:`iter_rows` then streams the rows (openpyxl's
read-only mode, which keeps one row in memory) and stops at the row and column limits whatever the
sheet declared. zipfile never inflates a member past the size its directory declares, so the
declared sizes checked here are the sizes read. CSV text gets the same limits plus the line
length, and an undecodable file is refused naming the line of the first bad byte.

Plain functions of a file path: a page, a CLI command or a queued task call them alike. Any
plugin's importer uses them (patients, the knowledge base's articles …); it chooses its
:class:`SheetLimits` (``SheetLimits.from_config`` reads the ``HCRM_IMPORT_*`` settings;
:func:`sheet_limits` the deployment's). :func:`store_file` keeps an upload (size limit, kind,
CSV re-encoded as UTF-8, workbook checked) and :func:`cell_text` reads a cell as the user sees it.
"""
from __future__ import annotations

import csv
import io
import os
import posixpath
import re
import shutil
import zipfile
from collections import ChainMap
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime, time
from pathlib import Path

from flask import current_app, has_app_context
from flask_babel import gettext as _

MB = 1024 * 1024
#: Where an Office Open XML workbook keeps its parts; anything else has no business in one.
XLSX_PARTS = re.compile(r"(\[Content_Types\]\.xml|_rels/[^/]*\.rels|(docProps|xl|customXml)/.+)")
_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\s+ref=\"([A-Z]{1,3})?(\d+)?(?::([A-Z]{1,3})(\d+))?\"")
_HEAD_BYTES = 64 * 1024  # the dimension element comes before the sheet's data
_PART_BYTES = 4 * MB  # of the workbook's list of sheets: thousands of sheets fit
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_OLE_ENCRYPTED = "EncryptionInfo".encode("utf-16-le")


class SpreadsheetRefused(ValueError):
    """The file cannot be read within the limits; the message tells the user why and what to do."""


@dataclass(frozen=True)
class SheetLimits:
    """What one uploaded file may hold. The defaults fit the largest sensible import (100,000
    rows of 100 columns) with a margin; a deployment changes them with ``HCRM_IMPORT_<FIELD>``."""

    max_rows: int = 100_000             # data rows, below the header row
    max_columns: int = 100
    max_uncompressed: int = 200 * MB    # all members of an .xlsx together, inflated
    max_ratio: int = 100                # inflated size / compressed size of one member …
    ratio_from: int = 1 * MB            # … once it inflates to more than this
    max_line: int = 64 * 1024           # characters of one CSV line

    @classmethod
    def from_config(cls, config: Mapping) -> SheetLimits:
        """The limits ``config`` sets (``HCRM_IMPORT_MAX_ROWS`` …), the defaults for the rest."""
        given = {}
        for field in fields(cls):
            key = f"HCRM_IMPORT_{field.name.upper()}"
            if config.get(key) not in (None, ""):
                try:
                    given[field.name] = int(config[key])
                except (TypeError, ValueError):
                    raise ValueError(f"{key} must be a whole number, not {config[key]!r}") from None
        return cls(**given)


def _mb(size: int) -> str:
    return f"{size / MB:.0f}"


def column_number(letters: str) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - 64
    return number


# -- .xlsx ---------------------------------------------------------------------------------------
def refuse_ole(head: bytes) -> None:
    """An OLE2 file is an old .xls, or an .xlsx that Excel encrypted with a password."""
    if head.startswith(_OLE[:4]):
        raise SpreadsheetRefused(_("Old Excel files (.xls) cannot be read: save the file as .xlsx or CSV and "
                                   "upload it again."))


def _ole_is_encrypted(path: Path) -> bool:
    with open(path, "rb") as fh:
        return _OLE_ENCRYPTED in fh.read(4 * MB)


def check_ole(path: Path) -> None:
    """Refuse an OLE2 file with the reason that fits it (encrypted workbook or old .xls)."""
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(_OLE[:4]) and _ole_is_encrypted(path):
        raise SpreadsheetRefused(_("The workbook is protected by a password: remove the password in Excel "
                                   "(File → Info → Protect Workbook), save it and upload it again."))
    refuse_ole(head)


def _not_a_workbook(reason: str) -> SpreadsheetRefused:
    return SpreadsheetRefused(_("This file is not a readable Excel workbook (%(reason)s). Open it in Excel, "
                                "save it as .xlsx and upload it again.", reason=reason))


def _first_sheet(archive: zipfile.ZipFile) -> str:
    """The member of the sheet an importer reads: the active one, as Excel shows it on opening."""
    workbook = _head(archive, "xl/workbook.xml", _PART_BYTES)
    sheets = re.findall(rb"<(?:\w+:)?sheet\b[^>]*?\br:id=\"([^\"]+)\"", workbook) or \
        re.findall(rb"<(?:\w+:)?sheet\b[^>]*?\bid=\"([^\"]+)\"", workbook)
    if not sheets:
        raise _not_a_workbook(_("no worksheet"))
    active = re.search(rb"activeTab=\"(\d+)\"", workbook)
    index = int(active.group(1)) if active and int(active.group(1)) < len(sheets) else 0
    rels = _head(archive, "xl/_rels/workbook.xml.rels", _PART_BYTES) \
        if "xl/_rels/workbook.xml.rels" in archive.namelist() else b""
    for rel in re.finditer(rb"<(?:\w+:)?Relationship\b[^>]*>", rels):
        attributes = dict(re.findall(rb"(\w+)=\"([^\"]*)\"", rel.group(0)))
        if attributes.get(b"Id") == sheets[index]:
            target = attributes.get(b"Target", b"").decode("utf-8", "replace")
            return target.lstrip("/") if target.startswith("/") else posixpath.normpath(f"xl/{target}")
    raise _not_a_workbook(_("no worksheet"))


def _head(archive: zipfile.ZipFile, member: str, size: int) -> bytes:
    with archive.open(member) as fh:
        return fh.read(size)


def _declared_size(archive: zipfile.ZipFile, member: str) -> tuple[int | None, int | None]:
    """(rows, columns) the sheet's ``<dimension ref="A1:K2500"/>`` declares; None where absent."""
    match = _DIMENSION.search(_head(archive, member, _HEAD_BYTES))
    if not match:
        return None, None
    last_col, last_row = (match.group(3), match.group(4)) if match.group(4) else (match.group(1), match.group(2))
    return (int(last_row) if last_row else None), (column_number(last_col.decode()) if last_col else None)


def check_xlsx(path: Path, limits: SheetLimits = SheetLimits()) -> str:
    """Refuse an .xlsx that is not a plain workbook or exceeds ``limits``, before parsing it:
    damaged zip, encrypted or foreign members, inflated size, compression ratio, the declared
    row and column counts. Returns the member holding the sheet to read."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _not_a_workbook(type(exc).__name__) from None
    with archive:
        members = archive.infolist()
        names = {info.filename for info in members}
        if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
            raise _not_a_workbook(_("no workbook inside the archive"))
        total = 0
        for info in members:
            if info.flag_bits & 0x1:
                raise SpreadsheetRefused(_("The workbook is protected by a password: remove the password in "
                                           "Excel, save it and upload it again."))
            if not XLSX_PARTS.fullmatch(info.filename) or ".." in info.filename.split("/"):
                raise _not_a_workbook(_("unexpected file “%(name)s” in the archive", name=info.filename[:80]))
            total += info.file_size
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > limits.ratio_from and ratio > limits.max_ratio:
                raise SpreadsheetRefused(_(
                    "The workbook is refused: its part “%(name)s” would inflate %(ratio)d times (to %(mb)s MB), "
                    "which no real spreadsheet does. Save the data again from Excel as .xlsx or CSV.",
                    name=info.filename[:80], ratio=int(ratio), mb=_mb(info.file_size)))
        if total > limits.max_uncompressed:
            raise SpreadsheetRefused(_(
                "The workbook holds %(mb)s MB of data once unpacked; at most %(max)s MB can be read. "
                "Split it into smaller files.", mb=_mb(total), max=_mb(limits.max_uncompressed)))
        try:
            sheet = _first_sheet(archive)
            rows, columns = _declared_size(archive, sheet)
        except KeyError:
            raise _not_a_workbook(_("no worksheet")) from None
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:  # a damaged member
            raise _not_a_workbook(type(exc).__name__) from None
    refuse_counts(rows - 1 if rows else None, columns, limits)
    return sheet


def refuse_counts(rows: int | None, columns: int | None, limits: SheetLimits) -> None:
    """Refuse a sheet with more data rows or columns than ``limits`` allow."""
    if rows is not None and rows > limits.max_rows:
        raise SpreadsheetRefused(_("The file has %(n)d rows; import at most %(max)d at a time (split the file).",
                                   n=rows, max=limits.max_rows))
    if columns is not None and columns > limits.max_columns:
        raise SpreadsheetRefused(_("The file has %(n)d columns; at most %(max)d can be imported.",
                                   n=columns, max=limits.max_columns))


def _xlsx_rows(path: Path, limits: SheetLimits) -> Iterator[tuple]:
    check_xlsx(path, limits)
    from openpyxl import load_workbook  # imported when a file is read: it costs start-up time
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zip, XML or openpyxl errors: all mean "not a workbook we can read"
        raise _not_a_workbook(type(exc).__name__) from None
    try:
        sheet = book.active if getattr(book.active, "iter_rows", None) else book.worksheets[0]
        sheet.reset_dimensions()  # some tools write a wrong size: read what is there, within the limits
        yield from sheet.iter_rows(values_only=True)
    finally:
        book.close()


# -- CSV -----------------------------------------------------------------------------------------
def decode_text(data: bytes) -> str:
    """UTF-8 (with or without the BOM Excel writes), else GBK/GB18030 (Excel's CSV on Chinese
    Windows). Anything else is refused naming the line of the first byte that is neither."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError as exc:
            if encoding == "utf-8-sig":
                first_error = exc
    else:
        start = first_error.start
        raise SpreadsheetRefused(_(
            "This file is neither a spreadsheet nor a CSV text file in UTF-8 or GBK: line %(line)d holds "
            "bytes that are neither (%(bytes)s). Save it again as CSV UTF-8.",
            line=data.count(b"\n", 0, start) + 1, bytes=data[start:start + 4].hex(" ")))
    sample = text[:100_000]
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\r\n")
    if "\x00" in text or controls > len(sample) // 100:
        raise SpreadsheetRefused(_("This file is neither a spreadsheet nor a CSV text file (UTF-8 or GBK)."))
    return text


def check_csv_lines(text: str, limits: SheetLimits = SheetLimits()) -> None:
    """Refuse a CSV text with a line longer than the limit (a binary or a broken export)."""
    for number, line in enumerate(io.StringIO(text, newline=""), start=1):
        if len(line) > limits.max_line:
            raise SpreadsheetRefused(_("Line %(line)d of the file has %(n)d characters; at most %(max)d are read. "
                                       "Is it really a CSV file?", line=number, n=len(line), max=limits.max_line))


def _csv_rows(path: Path, limits: SheetLimits) -> Iterator[list[str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        first = fh.readline(limits.max_line + 1)
        fh.seek(0)
        delimiter = max((",", "\t", ";"), key=first.count)
        previous = csv.field_size_limit(limits.max_line)
        try:
            yield from csv.reader(fh, delimiter=delimiter)
        except csv.Error as exc:
            raise SpreadsheetRefused(_("The CSV file cannot be read (%(reason)s).", reason=str(exc))) from None
        finally:
            csv.field_size_limit(previous)


# -- both ----------------------------------------------------------------------------------------
def iter_rows(path: Path, kind: str, limits: SheetLimits = SheetLimits()) -> Iterator[tuple | list]:
    """Every row of the (first, active) sheet or the CSV file, header row included, as cell
    values, one at a time. Refuses (SpreadsheetRefused) as soon as a limit is passed, whatever
    the file declared: a sheet's own size claim is not trusted beyond the early check."""
    source = _xlsx_rows(path, limits) if kind == "xlsx" else _csv_rows(path, limits)
    filled = 0
    try:
        for values in source:
            # Blank rows (a sheet formatted far below its data) cost little and count for nothing.
            filled += any(v is not None and v != "" for v in values)
            if filled > limits.max_rows + 1:  # the header row and max_rows below it
                raise SpreadsheetRefused(_("The file has more than %(max)d rows; import at most %(max)d at a "
                                           "time (split the file).", max=limits.max_rows))
            if len(values) > limits.max_columns:
                width = len(values)
                while width and values[width - 1] in (None, ""):
                    width -= 1
                refuse_counts(None, width, limits)
            yield values
    finally:
        source.close()


# -- an upload kept for an importer (the patients' and the knowledge base's) ------------------------
CHUNK = 64 * 1024
EXACT_FLOAT_LIMIT = 1e15  # Excel keeps 15 significant digits: larger numbers lost some


def sheet_limits() -> SheetLimits:
    """The deployment's import limits (``HCRM_IMPORT_*`` app settings or environment variables),
    else the defaults."""
    if not has_app_context():
        return SheetLimits()
    return SheetLimits.from_config(ChainMap(current_app.config, os.environ))


def store_file(stream, filename: str, folder: Path, limit: int, *, too_large=SpreadsheetRefused) -> tuple[str, Path]:
    """Copy the upload into ``folder`` (at most ``limit`` bytes) and return its kind ("xlsx" or
    "csv") and path; CSV text is stored as UTF-8 whatever it came as. A workbook is checked
    against the limits before anything parses it. Raises SpreadsheetRefused (``too_large`` for
    a file over the limit) with a message for the user."""
    suffix = Path(filename or "").suffix.lower()
    if suffix not in (".xlsx", ".xlsm", ".csv", ".txt", ".xls"):
        raise SpreadsheetRefused(_("Upload an Excel workbook (.xlsx) or a CSV file (.csv)."))
    raw = folder / "upload.bin"
    size = 0
    with open(raw, "wb") as out:
        while chunk := stream.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise too_large(_("The file is larger than %(mb)d MB: split it into smaller files.",
                                  mb=limit // (1024 * 1024)))
            out.write(chunk)
    if size == 0:
        raise SpreadsheetRefused(_("The file is empty."))
    check_ole(raw)
    limits = sheet_limits()
    if zipfile.is_zipfile(raw):
        path = folder / "upload.xlsx"
        shutil.move(raw, path)
        check_xlsx(path, limits)
        return "xlsx", path
    if suffix in (".xlsx", ".xlsm", ".xls"):
        raise SpreadsheetRefused(_("This file is not a readable Excel workbook (it is damaged or not an .xlsx "
                                   "file). Open it in Excel, save it as .xlsx and upload it again."))
    text = decode_text(raw.read_bytes())
    check_csv_lines(text, limits)
    path = folder / "upload.csv"
    path.write_text(text, encoding="utf-8")
    raw.unlink()
    return "csv", path


def cell_text(value) -> str | None:
    """A cell as the text a user sees in it."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(" ", "minutes")
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < EXACT_FLOAT_LIMIT else format(value, ".15g")
    text = str(value).strip()
    return text or None
