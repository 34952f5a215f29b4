"""The patient import refuses a zip bomb, an oversized sheet and a damaged workbook at upload,
with a message, before parsing it (core.spreadsheets does the checks)."""
import html
import tracemalloc

import pytest

from plugins.patients.tests.test_transfer import (  # noqa: F401  (imports is a fixture)
    check,
    english,
    imports,
    token_of,
    upload,
    xlsx,
)
from tests.test_spreadsheets import with_sheet

pytestmark = pytest.mark.usefixtures("imports")


def refusal(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_a_zip_bomb_upload_is_refused_quickly_with_a_message(app, client):
    english(client, "a_admin")
    bomb = with_sheet(sheet_rows=400_000)  # ~20 MB of rows in ~20 KB; the filed one was 1 GB in 1 MB
    tracemalloc.start()
    response = upload(client, "patients.xlsx", bomb)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert response.status_code == 400
    assert "would inflate" in refusal(response) and "xl/worksheets/sheet1.xml" in refusal(response)
    assert peak < 10 * 1024 * 1024  # refused from the zip's directory, never inflated


def test_too_many_rows_or_columns_are_refused_at_upload_naming_the_limits(app, client):
    english(client, "a_admin")
    app.config["HCRM_IMPORT_MAX_ROWS"] = 5
    response = upload(client, "patients.xlsx", xlsx([["姓名"]] + [[f"病人{i}"] for i in range(8)]))
    assert response.status_code == 400
    assert "The file has 8 rows; import at most 5 at a time" in refusal(response)
    response = upload(client, "wide.xlsx", xlsx([[f"列{i}" for i in range(101)], ["张三"]]))
    assert response.status_code == 400
    assert "101 columns; at most 100" in refusal(response)


@pytest.mark.real_commits  # a queue worker reads the sheet
def test_a_sheet_that_hides_its_size_is_stopped_by_the_check(app, client):
    from core.testing_queue import consumers
    english(client, "a_admin")
    app.config["HCRM_IMPORT_MAX_ROWS"] = 1000  # before the worker starts: it takes the app's settings
    lying = with_sheet(sheet_rows=20_000, dimension=b'<dimension ref="A1"/>')
    with consumers(app):
        token = token_of(upload(client, "patients.xlsx", lying))
        progress = check(client, token, mapping=["name"])
    assert progress["state"] == "failed"
    assert "more than 1000 rows" in progress["message"]


def test_a_damaged_workbook_is_refused_at_upload(app, client):
    english(client, "a_admin")
    response = upload(client, "patients.xlsx", b"PK\x03\x04" + b"\x00" * 300)
    assert response.status_code == 400
    assert "not a readable Excel workbook" in refusal(response)
