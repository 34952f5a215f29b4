"""Hospital isolation, probed the way an attacker would: a user of hospital A requests every page
and API route with hospital B's ids, and no answer that succeeds may carry B's data.

B's rows are demo data whose names, titles and notes are overwritten with a marker (ZQXB…) that
appears nowhere else; a 2xx body holding it is a leak. Runs on SQLite and PostgreSQL.
"""
import io
import re
import zipfile

import pytest
import sqlalchemy as sa
from werkzeug.routing import AnyConverter, IntegerConverter

from core.demo import load_demo
from core.extensions import db
from core.models import Hospital
from core.tenancy import HospitalOwned, system_scope
from core.testing import api_token, login, make_hospital, make_user

MARKER = "ZQXB"
#: Text columns that show up wherever a row is listed or shown.
MARKED_COLUMNS = ("name", "display_name", "title", "notes", "note", "content", "body", "address", "description",
                  "subject", "summary", "treatment_plan", "doctor_name", "text", "question", "label")
DEMO_PLUGINS = ("patients", "followup")  # the others' demo data needs outside files (a demo HIS)


def _owned_tables():
    # Other tests declare models of their own whose tables this database lacks.
    existing = set(sa.inspect(db.session.connection()).get_table_names())
    return [mapper.class_ for mapper in db.Model.registry.mappers
            if issubclass(mapper.class_, HospitalOwned) and mapper.local_table is not None
            and not mapper.inherits and mapper.local_table.name in existing]


def _mark(model, hospital_id: int) -> None:
    table = model.__table__
    for column in table.columns:
        if column.name in MARKED_COLUMNS and isinstance(column.type, sa.String | sa.Text) \
                and (getattr(column.type, "length", None) or 99) >= 12:
            db.session.execute(table.update().where(table.c.hospital_id == hospital_id)
                               .values({column.name: sa.literal(MARKER) + sa.cast(table.c.id, sa.String)}))


@pytest.fixture
def two_hospitals(app):
    """A and B with every plugin, demo data in both, B's text marked; B's ids per table."""
    with app.app_context():
        everything = list(app.extensions["hcrm"].registry.names)
        hospitals = {}
        for code in ("A", "B"):
            hospital = make_hospital(code, f"{code} 医院", plugins=[p for p in DEMO_PLUGINS if p in everything])
            load_demo(hospital)
            from core import activation
            with system_scope():
                for plugin in everything:
                    activation.enable(hospital, plugin)
            db.session.commit()
            hospitals[code] = hospital.id
        make_user(db.session.get(Hospital, hospitals["A"]), "a_root", ("super_admin",))
        with system_scope():
            db.session.get(Hospital, hospitals["B"]).name = f"{MARKER} 医院"
            ids = {}
            for model in _owned_tables():
                if "id" not in model.__table__.c:
                    continue
                _mark(model, hospitals["B"])
                table = model.__table__
                row = db.session.execute(sa.select(sa.func.min(table.c.id), sa.func.max(table.c.id))
                                         .where(table.c.hospital_id == hospitals["B"])).one()
                if row[0] is not None:
                    ids[table.name] = sorted({row[0], row[1]})
            db.session.commit()
    return hospitals, ids


def _candidates(rule, name: str, ids: dict) -> list[int]:
    """B's ids for a route argument: of the tables its name points at (``visit_id`` → *_visit),
    else of the route's plugin, else of every table."""
    stem = name.removesuffix("_id")
    named = [v for table, v in ids.items() if stem != "id" and table.endswith("_" + stem)]
    if named:
        return sorted({i for v in named for i in v})
    plugin = rule.rule.removeprefix("/api/v1").strip("/").split("/")[0]
    owned = [v for table, v in ids.items() if table.startswith(plugin + "_")]
    return sorted({i for v in (owned or ids.values()) for i in v})


def _paths(rule, ids: dict) -> list[str]:
    ints = [n for n, c in rule._converters.items() if isinstance(c, IntegerConverter)]
    base = {}
    for name, converter in rule._converters.items():
        if isinstance(converter, AnyConverter):
            base[name] = sorted(converter.items)[0]
        elif name not in ints:
            base[name] = "x"
    if not ints:
        return [rule.build(base, append_unknown=False)[1]]
    choices = {name: _candidates(rule, name, ids) for name in ints}
    rounds = max(len(v) for v in choices.values())
    return sorted({rule.build({**base, **{n: v[min(i, len(v) - 1)] for n, v in choices.items()}},
                              append_unknown=False)[1] for i in range(rounds)})


def _the_marker_shows_where_it_may(app, hospital_b: int, ids: dict) -> None:
    """Without this, a marker that never reached a page would let the walk pass for nothing."""
    with app.app_context():
        make_user(db.session.get(Hospital, hospital_b), "b_root", ("super_admin",))
    client = app.test_client()
    login(client, "b_root")
    assert MARKER in client.get(f"/patients/{ids['patients_patient'][-1]}").get_data(as_text=True)
    assert MARKER in client.get("/patients/").get_data(as_text=True)


def _text(data: bytes) -> str:
    """A body as text; an .xlsx (a zip) as the text of its parts."""
    if data.startswith(b"PK"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            data = b"".join(archive.read(name) for name in archive.namelist())
    return data.decode("utf-8", "replace")


def test_no_page_or_api_answer_of_hospital_a_carries_hospital_b_data(app, two_hospitals):
    hospitals, ids = two_hospitals
    _the_marker_shows_where_it_may(app, hospitals["B"], ids)
    client = app.test_client()
    login(client, "a_root")
    token = api_token(client, "a_root")
    answered, leaks = 0, []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods or rule.endpoint == "static" or "logout" in rule.rule:
            continue
        for path in _paths(rule, ids):
            response = client.get(path, headers=token if path.startswith("/api/") else {})
            assert response.status_code < 500, path
            answered += 1
            body = _text(response.get_data())
            if response.status_code < 300 and MARKER in body:
                leaks.append((path, re.findall(MARKER + r"\d+", body)[:3]))
    assert answered > 100
    assert leaks == []
