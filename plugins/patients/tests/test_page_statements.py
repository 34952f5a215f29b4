"""The patient list and record pages read what they show once: logging an unmasked view must not
make every patient on the page be read again (a statement per row)."""
import contextlib

import sqlalchemy as sa

from core.extensions import db
from core.models import AuditLog
from core.tenancy import hospital_scope, system_scope
from core.testing import login
from plugins.patients import services


@contextlib.contextmanager
def statements(app):
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def test_list_and_record_do_not_reload_their_patients_after_the_audit(app, client, clinic):
    with app.app_context(), hospital_scope(clinic["a"]):
        ids = [services.create_patient({"name": f"患者{i}", "phone": f"1380000{i:04d}"}, allow_duplicate=True).id
               for i in range(25)]
        db.session.commit()
    login(client, "a_admin")  # sees numbers unmasked: each page writes an audit row
    client.get("/patients/?per_page=25")  # warm-up: the app's first request reads its settings
    with statements(app) as seen:
        page = client.get("/patients/?per_page=25")
    assert page.status_code == 200 and "13800000024" in page.get_data(as_text=True)
    reads = [s for s in seen if s.lstrip().upper().startswith("SELECT") and "patients_patient" in s]
    assert len(reads) < 10, f"{len(reads)} reads of patients for one page of 25"
    with statements(app) as seen:
        record = client.get(f"/patients/{ids[0]}")
    assert record.status_code == 200 and "13800000000" in record.get_data(as_text=True)
    patient_reads = [s for s in seen if "FROM patients_patient" in s and "patients_patient.id =" in s]
    assert len(patient_reads) <= 2, patient_reads
    with app.app_context(), system_scope():
        logged = db.session.execute(sa.select(sa.func.count()).select_from(AuditLog)
                                    .where(AuditLog.action == "view", AuditLog.model == "Patient")).scalar()
    assert logged >= 2
