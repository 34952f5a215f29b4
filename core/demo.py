"""Demonstration data for ``hcrm init --demo``: departments, one user per default role, and
whatever the hospital's live plugins add through ``hcrm_demo_data``. Idempotent."""
from __future__ import annotations

import sqlalchemy as sa
from flask import current_app

from core.activation import live_plugins
from core.extensions import db
from core.models import Department, Hospital, Role, User
from core.permissions import ROLE_DEFAULTS
from core.tenancy import hospital_scope, system_scope

DEMO_PASSWORD = "hcrm-demo-2026"
DEPARTMENTS = [("IM", "内科"), ("SURG", "外科"), ("ORTH", "骨科"), ("OBGYN", "妇产科"),
               ("PED", "儿科"), ("CS", "客服中心"), ("FU", "随访中心")]
ROLE_DEPARTMENT = {"dept_manager": "ORTH", "supervisor": "FU", "staff": "FU"}


def load_demo(hospital: Hospital) -> list[tuple[str, str]]:
    """Load demo data into ``hospital``; returns (username, role name) of the users created."""
    created = []
    with hospital_scope(hospital):
        existing = {d.code: d for d in db.session.execute(sa.select(Department)).scalars()}
        for code, name in DEPARTMENTS:
            if code not in existing:
                existing[code] = Department(hospital_id=hospital.id, code=code, name=name)
                db.session.add(existing[code])
        db.session.flush()
        roles = {r.code: r for r in db.session.execute(sa.select(Role)).scalars()}
        for role_code, (role_name, _scope) in ROLE_DEFAULTS.items():
            username = f"{hospital.code.lower()}_{role_code}"
            with system_scope():
                taken = db.session.execute(sa.select(User.id).where(User.username == username)).first()
            if taken:
                continue
            dept = existing.get(ROLE_DEPARTMENT.get(role_code, ""))
            user = User(hospital_id=hospital.id, username=username, display_name=f"{role_name}（{hospital.name}）",
                        department_id=dept.id if dept else None, roles=[roles[role_code]])
            user.set_password(DEMO_PASSWORD)
            db.session.add(user)
            created.append((username, role_name))
        db.session.commit()
    registry = current_app.extensions["hcrm"].registry
    with system_scope():
        live = live_plugins(hospital.id)
    for name in registry.infos:
        if name in live:
            with hospital_scope(hospital):
                registry.call_one(name, "hcrm_demo_data", hospital=hospital)
                db.session.commit()
    return created
