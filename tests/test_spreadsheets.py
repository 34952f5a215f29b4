"""core.spreadsheets: an uploaded workbook is checked from its zip directory and its declared
size before anything parses it, and rows are streamed within the limits."""
import io
import os
import tracemalloc
import zipfile

import pytest
from flask_babel import force_locale, gettext
from openpyxl import Workbook

from core.spreadsheets import SheetLimits, SpreadsheetRefused, check_ole, check_xlsx, decode_text, iter_rows

SHEET_START = (b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
               b'spreadsheetml/2006/main">%s<sheetData>')
ROW = b'<row><c t="inlineStr"><is><t>x</t></is></c></row>'


@pytest.fixture(autouse=True)
def request_context(app):
    with app.test_request_context(), force_locale("en"):
        gettext("Name")  # the catalogs are loaded once, not during a timed check
        yield


def workbook(rows=(("姓名", "手机"), ("张三", "13812345678"))) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def with_sheet(sheet: bytes | None = None, *, extra=(), dimension=b"", sheet_rows=0) -> bytes:
    """A real workbook whose sheet is replaced (``sheet``, or ``sheet_rows`` repeated rows
    written in a stream) and ``extra`` (name, bytes) members added."""
    source = zipfile.ZipFile(io.BytesIO(workbook()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                target.writestr(info, source.read(info))
            elif sheet is not None:
                target.writestr("xl/worksheets/sheet1.xml", sheet)
            elif sheet_rows:
                with target.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
                    fh.write(SHEET_START % dimension)
                    block = ROW * 10_000
                    for _ in range(sheet_rows // 10_000):
                        fh.write(block)
                    fh.write(b"</sheetData></worksheet>")
            else:
                target.writestr(info, source.read(info))
        for name, data in extra:
            target.writestr(name, data)
    return out.getvalue()


def saved(tmp_path, data: bytes, name="upload.xlsx"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_a_zip_bomb_is_refused_from_its_directory_quickly_and_without_inflating_it(tmp_path):
    bomb = with_sheet(sheet_rows=400_000)  # ~20 MB of sheet XML in ~20 KB
    assert len(bomb) < 100_000
    path = saved(tmp_path, bomb)
    tracemalloc.start()
    with pytest.raises(SpreadsheetRefused, match="would inflate"):
        check_xlsx(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 2 * 1024 * 1024  # never inflated


def test_the_whole_archive_is_limited_once_unpacked(tmp_path):
    noise = os.urandom(3 * 1024 * 1024)  # incompressible: the ratio alone lets it pass
    path = saved(tmp_path, with_sheet(extra=[("xl/media/image1.png", noise)]))
    check_xlsx(path)
    with pytest.raises(SpreadsheetRefused, match="at most 2 MB can be read"):
        check_xlsx(path, SheetLimits(max_uncompressed=2 * 1024 * 1024))


def test_the_declared_dimension_is_refused_before_parsing(tmp_path):
    sheet = SHEET_START % b'<dimension ref="A1:C250001"/>' + ROW + b"</sheetData></worksheet>"
    with pytest.raises(SpreadsheetRefused, match="250000 rows; import at most 100000"):
        check_xlsx(saved(tmp_path, with_sheet(sheet)))
    sheet = SHEET_START % b'<dimension ref="A1:XFD2"/>' + ROW + b"</sheetData></worksheet>"
    with pytest.raises(SpreadsheetRefused, match="16384 columns; at most 100"):
        check_xlsx(saved(tmp_path, with_sheet(sheet)))


def test_rows_and_columns_are_counted_while_streaming_whatever_the_sheet_declares(tmp_path):
    rows = [("姓名",)] + [(f"病人{i}",) for i in range(30)]
    path = saved(tmp_path, workbook(rows))
    assert len(list(iter_rows(path, "xlsx"))) == 31
    lying = saved(tmp_path, with_sheet(sheet_rows=20_000, dimension=b'<dimension ref="A1"/>'), "lying.xlsx")
    check_xlsx(lying, SheetLimits(max_rows=100))  # the claim passes the early check …
    with pytest.raises(SpreadsheetRefused, match="more than 100 rows"):
        list(iter_rows(lying, "xlsx", SheetLimits(max_rows=100)))  # … the rows do not
    wide = saved(tmp_path, workbook([tuple(f"列{i}" for i in range(120))]), "wide.xlsx")
    with pytest.raises(SpreadsheetRefused, match="120 columns; at most 100"):
        list(iter_rows(wide, "xlsx"))


@pytest.mark.parametrize(("data", "reason"), [
    (b"PK\x03\x04" + os.urandom(2000), "not a readable Excel workbook"),
    (b"not a zip at all", "not a readable Excel workbook"),
])
def test_a_malformed_zip_is_refused(tmp_path, data, reason):
    with pytest.raises(SpreadsheetRefused, match=reason):
        check_xlsx(saved(tmp_path, data))


def test_a_zip_that_is_not_a_workbook_or_carries_foreign_files_is_refused(tmp_path):
    plain = io.BytesIO()
    with zipfile.ZipFile(plain, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(SpreadsheetRefused, match="no workbook inside"):
        check_xlsx(saved(tmp_path, plain.getvalue()))
    with pytest.raises(SpreadsheetRefused, match="unexpected file “payload.exe”"):
        check_xlsx(saved(tmp_path, with_sheet(extra=[("payload.exe", b"MZ")])))
    with pytest.raises(SpreadsheetRefused, match="unexpected file"):
        check_xlsx(saved(tmp_path, with_sheet(extra=[("xl/../../etc/passwd", b"x")])))


def test_encrypted_workbooks_are_refused_with_what_to_do(tmp_path):
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512) + "EncryptionInfo".encode("utf-16-le") + bytes(512)
    with pytest.raises(SpreadsheetRefused, match="protected by a password"):
        check_ole(saved(tmp_path, ole))
    with pytest.raises(SpreadsheetRefused, match=r"Old Excel files \(.xls\)"):
        check_ole(saved(tmp_path, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(1024), "old.xls"))
    encrypted_member = bytearray(with_sheet())
    header = encrypted_member.find(b"PK\x01\x02")  # the first central directory entry
    encrypted_member[header + 8] |= 0x1  # its "encrypted" flag
    with pytest.raises(SpreadsheetRefused, match="protected by a password"):
        check_xlsx(saved(tmp_path, bytes(encrypted_member)))


def test_csv_text_names_the_line_of_a_bad_byte_and_reads_gbk_and_utf8_with_bom():
    assert decode_text("姓名,手机\n张三,138\n".encode("utf-8-sig")) == "姓名,手机\n张三,138\n"
    assert decode_text("姓名,手机\n张三,138\n".encode("gbk")) == "姓名,手机\n张三,138\n"
    with pytest.raises(SpreadsheetRefused, match=r"line 3 holds bytes that are neither \(ff fe"):
        decode_text(b"a,b\nc,d\n\xff\xfe\x00\x81bad\n")


def test_csv_rows_and_lines_are_limited(tmp_path):
    path = saved(tmp_path, ("姓名\n" + "张三\n" * 50 + ",\n" * 100).encode(), "upload.csv")
    assert len(list(iter_rows(path, "csv", SheetLimits(max_rows=50)))) == 151  # blank rows do not count
    with pytest.raises(SpreadsheetRefused, match="more than 20 rows"):
        list(iter_rows(path, "csv", SheetLimits(max_rows=20)))
    from core.spreadsheets import check_csv_lines
    with pytest.raises(SpreadsheetRefused, match="Line 2 of the file has 70001 characters"):
        check_csv_lines("姓名\n" + "x" * 70_000 + "\n")


def test_limits_come_from_the_settings():
    limits = SheetLimits.from_config({"HCRM_IMPORT_MAX_ROWS": "500", "HCRM_IMPORT_MAX_COLUMNS": 20})
    assert (limits.max_rows, limits.max_columns, limits.max_ratio) == (500, 20, 100)
    with pytest.raises(ValueError, match="HCRM_IMPORT_MAX_ROWS must be a whole number, not 'many'"):
        SheetLimits.from_config({"HCRM_IMPORT_MAX_ROWS": "many"})


def test_refusals_are_in_chinese_for_chinese_users(app, tmp_path):
    with force_locale("zh_CN"):
        with pytest.raises(SpreadsheetRefused, match="膨胀 \\d+ 倍"):
            check_xlsx(saved(tmp_path, with_sheet(sheet_rows=200_000)))
        with pytest.raises(SpreadsheetRefused, match="第 2 行含有无法识别的字节"):
            decode_text(b"a\n\xff\xfe\x00\x81\n")


def test_an_upload_is_kept_as_utf8_csv_or_a_checked_workbook(tmp_path):
    """store_file (the importers' shared upload step): kind by content, size limit, CSV as UTF-8."""
    from datetime import datetime

    from core.spreadsheets import cell_text, store_file
    kind, path = store_file(io.BytesIO("类型,标题\n宣教,饮食\n".encode("gbk")), "a.csv", tmp_path, 1024)
    assert kind == "csv" and path.read_text(encoding="utf-8") == "类型,标题\n宣教,饮食\n"
    book = Workbook()
    book.active.append(["a"])
    data = io.BytesIO()
    book.save(data)
    (tmp_path / "x").mkdir()
    assert store_file(io.BytesIO(data.getvalue()), "b.xlsx", tmp_path / "x", 1024 * 1024)[0] == "xlsx"
    for content, name, reason in ((b"x" * 2000, "big.csv", "larger than"), (b"", "empty.csv", "empty"),
                                  (b"%PDF", "a.pdf", "Upload an Excel"), (b"not zip", "c.xlsx", "not a readable")):
        (tmp_path / name).mkdir(exist_ok=True)
        with pytest.raises(SpreadsheetRefused, match=reason):
            store_file(io.BytesIO(content), name, tmp_path / name, 1024 if name == "big.csv" else 1024 * 1024)
    assert cell_text(13812345678.0) == "13812345678" and cell_text(datetime(2024, 5, 1)) == "2024-05-01"
    assert cell_text("  ") is None
