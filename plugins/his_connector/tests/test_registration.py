"""Synced patients keep the HIS's registration time and are not the CRM's new patients: a
first sync of years of patients leaves "new patients this month" as it was."""
from datetime import datetime

import sqlalchemy as sa

from core import clock
from core.extensions import db
from core.tenancy import hospital_scope
from plugins.his_connector import services
from plugins.his_connector.models import Connection
from plugins.his_connector.testing import PATIENT_FIELDS, PATIENTS_QUERY, connect, sync
from plugins.patients.public import Patient, PatientQuery, search
from plugins.patients.testing import make_patient


def test_synced_patients_keep_the_his_registration_time_and_are_reported_as_synced(app, hospital, his):
    registered = datetime(2019, 3, 4, 8, 15)
    his.patient("P1", "老病人", JDSJ=registered)
    his.patient("P2", "无日期")  # no registration time in the HIS: registered when it arrives
    his.tick()
    with app.test_request_context():
        make_patient(hospital["a"], "新登记")
        connection_id = connect(his, hospital["a"], entities=())
        with hospital_scope(hospital["a"]):
            connection = db.session.get(Connection, connection_id)
            services.save_mapping(connection, "patients", {
                "query": PATIENTS_QUERY.replace(", GXSJ", ", GXSJ, JDSJ"), "key_column": "BRID",
                "cursor_column": "GXSJ", "fields": {**PATIENT_FIELDS, "registered_at": "JDSJ"}})
            db.session.commit()
        runs = sync(hospital["a"], connection_id)
        assert [(r["entity"], r["status"], r["inserted"]) for r in runs] == [("patients", "ok", 2)]
        with hospital_scope(hospital["a"]):
            synced = {p.external_id: p for p in db.session.execute(
                sa.select(Patient).where(Patient.external_id.is_not(None))).scalars()}
            assert {p.origin for p in synced.values()} == {"his"}
            assert synced["P1"].created_at == clock.local_to_utc(registered)
            assert synced["P2"].created_at.date() >= clock.local_to_utc(datetime.combine(
                clock.local_today(), datetime.min.time())).date()
        with hospital_scope(hospital["a"]):  # what the dashboard's new-patients card counts, by the list's filters
            today = clock.local_today()

            def this_month(origin):
                query = PatientQuery(origin=origin, registered_from=today.replace(day=1), registered_to=today)
                return db.session.execute(sa.select(sa.func.count()).select_from(search(query).subquery())).scalar()

            assert this_month("crm") == 1 and this_month("his") == 1  # P2; P1 is 2019's
