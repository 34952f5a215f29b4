"""A patient import whose queue consumer is killed (SIGKILL) in the middle of the commit: the
queue runs it again on another consumer, and the hospital ends with every row exactly once."""
from __future__ import annotations

import pytest

from core.testing_queue import consumers, drain, wait_until
from plugins.patients.tests.conftest import id_number
from plugins.patients.tests.test_transfer import (  # noqa: F401  (imports: the fixture)
    IMPORT_URL,
    csv_bytes,
    english,
    imports,
    patient_count,
    suggested,
    token_of,
    upload,
)

pytestmark = pytest.mark.real_commits
ROWS = 2000


def _progress(client, token):
    return client.get(f"{IMPORT_URL}/{token}/progress").get_json()


def test_an_import_killed_mid_commit_is_run_again_all_or_nothing(app, client, imports):  # noqa: F811
    english(client, "a_admin")
    rows = [["姓名", "身份证号", "手机"]] + [
        [f"患者{n}", id_number(f"{1950 + n // 1000}0101", f"{n % 1000:03d}"), f"139{n:08d}"] for n in range(ROWS)]
    token = token_of(upload(client, "big.csv", csv_bytes(rows)))
    mapping = suggested(client.get(f"{IMPORT_URL}/{token}/mapping").get_data(as_text=True))
    with consumers(app, workers=1) as (consumer,):
        client.post(f"{IMPORT_URL}/{token}/mapping", data={f"column-{i}": f for i, f in enumerate(mapping)})
        wait_until(lambda: _progress(client, token)["state"] == "validated", timeout=120)
        client.post(f"{IMPORT_URL}/{token}/commit")
        wait_until(lambda: (lambda p: p["state"] == "committing" and p["done"] >= 100)(_progress(client, token)),
                   timeout=120, every=0.02)
        consumer.kill()
    killed = _progress(client, token)
    assert killed["state"] == "committing" and killed["done"] < ROWS, killed  # it died half-way
    assert patient_count(app, imports["a"]) == 0  # and kept nothing of its transaction
    with consumers(app):
        tasks = drain(app, timeout=180)
    finished = _progress(client, token)
    assert (finished["state"], finished["imported"]) == ("done", ROWS), finished
    assert patient_count(app, imports["a"]) == ROWS
    commit_task = tasks[-1]
    assert (commit_task.task, commit_task.state, commit_task.retries) == ("patients.import", "ok", 1)
