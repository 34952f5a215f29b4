"""Default data a hospital gets when it enables the patients plugin (idempotent)."""
from __future__ import annotations

import csv
from pathlib import Path

import sqlalchemy as sa

from core.extensions import db
from plugins.patients.models import Disease, Source

DEFAULT_SOURCES = [("online", "网络"), ("phone", "电话咨询"), ("walk_in", "自然来源"),
                   ("staff", "员工介绍"), ("referral", "转诊")]
STARTER_DISEASES = Path(__file__).resolve().parent / "data" / "icd10_starter.csv"


def starter_diseases() -> list[tuple[str, str]]:
    with open(STARTER_DISEASES, encoding="utf-8") as fh:
        return [(row["code"].strip(), row["name"].strip()) for row in csv.DictReader(fh)]


def seed_defaults(hospital) -> None:
    """Sources and the ICD-10 starter list; rows the hospital already has are left as they are."""
    have = set(db.session.execute(sa.select(Source.code)).scalars())
    db.session.add_all(Source(hospital_id=hospital.id, code=code, name=name, position=i)
                       for i, (code, name) in enumerate(DEFAULT_SOURCES) if code not in have)
    known = set(db.session.execute(sa.select(Disease.code)).scalars())
    db.session.add_all(Disease(hospital_id=hospital.id, code=code, name=name)
                       for code, name in starter_diseases() if code not in known)
