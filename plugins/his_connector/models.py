"""The HIS connector's tables: connections, mappings (with their stored cursors), charges, the run
log and the quarantine of rows that could not be mapped. All are hospital-owned.

Secrets: a connection stores the *name* of the environment variable holding the password, never
the password, so it cannot leak through this database, a backup, the audit log or a page.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import relationship

from core.extensions import db
from core.models import utcnow
from core.tenancy import HospitalOwned

# Synced in this order: visits need their patients, and their diagnoses the disease catalogue.
ENTITIES = ("diseases", "patients", "visits", "charges")
ENCODINGS = ("utf8", "gbk", "gb18030")
UNKNOWN_DIAGNOSES = ("quarantine", "add")
RUN_STATUSES = ("running", "ok", "failed", "cancelled")
TRIGGERS = ("cli", "schedule", "web", "api")


class Connection(HospitalOwned, db.Model):
    """A HIS database of the hospital: where it is and how gently to read it."""

    __tablename__ = "his_connector_connection"
    __table_args__ = (sa.UniqueConstraint("hospital_id", "name"),)
    # The sync lock changes with every run; the run log records the runs themselves.
    __hcrm_audit_exclude__ = ("sync_token", "sync_claimed_at")

    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(64), nullable=False)
    # The HIS source configured by the operator (config.yaml, see settings.py), picked by name;
    # None only for connections made before sources existed, until an administrator picks one.
    source = sa.Column(sa.String(64), nullable=True)
    username = sa.Column(sa.String(128), nullable=True)  # the HIS account (unless the source fixes it)
    # The URL such an old connection stored (no password), kept to match it to a source.
    legacy_url = sa.Column(sa.String(500), nullable=True)
    password_env = sa.Column(sa.String(100), nullable=True)  # HCRM_HIS_PASSWORD_… only
    timezone = sa.Column(sa.String(64), nullable=False, default="Asia/Shanghai", server_default="Asia/Shanghai")
    encoding = sa.Column(sa.String(16), nullable=False, default="utf8", server_default="utf8")
    statement_timeout = sa.Column(sa.Integer, nullable=False, default=300, server_default="300")  # seconds
    batch_size = sa.Column(sa.Integer, nullable=False, default=5000, server_default="5000")
    safety_lag = sa.Column(sa.Integer, nullable=False, default=120, server_default="120")  # seconds
    schedule_minutes = sa.Column(sa.Integer, nullable=True)  # None: manual runs only
    enabled = sa.Column(sa.Boolean, nullable=False, default=True, server_default=sa.true())
    # A visit's diagnosis code missing from the disease catalogue: "quarantine" the visit, or
    # "add" the code under the HIS's name, flagged as from the HIS (see diagnoses.py).
    unknown_diagnoses = sa.Column(sa.String(16), nullable=False, default="quarantine", server_default="quarantine")
    last_test_at = sa.Column(sa.DateTime, nullable=True)
    last_test_ok = sa.Column(sa.Boolean, nullable=True)
    # The outcome of the last test as {"msgid", "params"} JSON text: translated when shown.
    last_test_message = sa.Column(sa.Text, nullable=True)
    # What the last test found odd though it passed (the HIS clock and the data disagree), same form.
    last_test_warning = sa.Column(sa.Text, nullable=True)
    # The sync lock (see locks.py): the claiming run's token and when it was claimed.
    sync_token = sa.Column(sa.String(32), nullable=True)
    sync_claimed_at = sa.Column(sa.DateTime, nullable=True)
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
    updated_at = sa.Column(sa.DateTime, nullable=False, default=utcnow, onupdate=utcnow)

    mappings = relationship("Mapping", back_populates="connection", order_by="Mapping.id",
                            cascade="all, delete-orphan")

    def __str__(self) -> str:
        return self.name


class Mapping(HospitalOwned, db.Model):
    """One entity's query on one connection, how its columns become our fields, and how far the
    sync has read.

    ``fields`` (JSON) maps our field name to a spec: ``{"column": "XB", "codes": {"1": "M"},
    "default": "U", "format": "%Y%m%d"}`` or ``{"value": "inpatient"}`` (see mapping.py).
    The cursor is kept exactly as the source gave it: ``cursor_value`` is its text form
    (``datetime.isoformat()`` with microseconds, ``str(int)``, ``str(Decimal)``...) and
    ``cursor_type`` says how to turn it back into the same bind value; ``cursor_key`` is the
    natural key of the last row read, the tie-breaker among rows sharing the cursor value.
    """

    __tablename__ = "his_connector_mapping"
    __table_args__ = (sa.UniqueConstraint("connection_id", "entity"),)
    # The cursor moves with every batch; the run log records its progress instead.
    __hcrm_audit_exclude__ = ("cursor_value", "cursor_type", "cursor_key", "cursor_key_type", "updated_at")

    id = sa.Column(sa.Integer, primary_key=True)
    connection_id = sa.Column(sa.Integer, sa.ForeignKey("his_connector_connection.id", ondelete="CASCADE"),
                              nullable=False, index=True)
    entity = sa.Column(sa.String(16), nullable=False)
    query = sa.Column(sa.Text, nullable=False)
    fields = sa.Column(sa.JSON, nullable=False, default=dict)
    key_column = sa.Column(sa.String(64), nullable=False)
    cursor_column = sa.Column(sa.String(64), nullable=False)
    enabled = sa.Column(sa.Boolean, nullable=False, default=True, server_default=sa.true())
    cursor_value = sa.Column(sa.Text, nullable=True)
    cursor_type = sa.Column(sa.String(16), nullable=True)
    cursor_key = sa.Column(sa.Text, nullable=True)
    cursor_key_type = sa.Column(sa.String(16), nullable=True)
    updated_at = sa.Column(sa.DateTime, nullable=False, default=utcnow, onupdate=utcnow)

    connection = relationship("Connection", back_populates="mappings")


class Charge(HospitalOwned, db.Model):
    """A HIS charge line (费用明细). HIS systems keep spending as charge rows that come and go
    (refunds are new rows or deletions of old ones), so we keep each charge under its own natural
    key and recompute each touched visit's ``spending`` set-based as the sum of its charges: a
    charge synced before its visit still counts once the visit arrives, and re-syncing a charge
    never adds it twice."""

    __tablename__ = "his_connector_charge"
    __table_args__ = (
        sa.UniqueConstraint("hospital_id", "external_id"),
        sa.Index("ix_his_connector_charge_visit", "hospital_id", "visit_external_id"),
    )
    __hcrm_audit__ = False  # a copy of the HIS's bookkeeping; the run log records each sync

    id = sa.Column(sa.Integer, primary_key=True)
    external_id = sa.Column(sa.String(64), nullable=False)
    visit_external_id = sa.Column(sa.String(64), nullable=False)
    amount = sa.Column(sa.Numeric(12, 2), nullable=False)
    item = sa.Column(sa.String(128), nullable=True)
    charged_at = sa.Column(sa.DateTime, nullable=True)


class Run(HospitalOwned, db.Model):
    """The run log: one row per mapping synced, updated after each committed batch, so a run
    that dies still shows how far it got. ``updated_at`` is the run's heartbeat: a run still
    "running" whose heartbeat is older than locks.stale_after() belongs to a stopped process."""

    __tablename__ = "his_connector_run"
    __table_args__ = (sa.Index("ix_his_connector_run_hospital_started", "hospital_id", "started_at"),)
    __hcrm_audit__ = False  # the log itself

    id = sa.Column(sa.Integer, primary_key=True)
    connection_id = sa.Column(sa.Integer, sa.ForeignKey("his_connector_connection.id", ondelete="CASCADE"),
                              nullable=False, index=True)
    mapping_id = sa.Column(sa.Integer, sa.ForeignKey("his_connector_mapping.id", ondelete="CASCADE"),
                           nullable=False, index=True)
    entity = sa.Column(sa.String(16), nullable=False)
    trigger = sa.Column(sa.String(16), nullable=False, default="cli")
    full = sa.Column(sa.Boolean, nullable=False, default=False)
    status = sa.Column(sa.String(16), nullable=False, default="running")
    started_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
    finished_at = sa.Column(sa.DateTime, nullable=True)
    updated_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
    rows_read = sa.Column(sa.Integer, nullable=False, default=0)
    inserted = sa.Column(sa.Integer, nullable=False, default=0)
    updated = sa.Column(sa.Integer, nullable=False, default=0)
    unchanged = sa.Column(sa.Integer, nullable=False, default=0)
    quarantined = sa.Column(sa.Integer, nullable=False, default=0)
    batches = sa.Column(sa.Integer, nullable=False, default=0)
    # Rows of the query with an empty cursor or key: they cannot be positioned, so no run reads
    # them; counted once per run so the administrator learns how many (and why: SKIPPED_REASON).
    skipped = sa.Column(sa.Integer, nullable=False, default=0, server_default="0")
    cursor_before = sa.Column(sa.Text, nullable=True)
    cursor_after = sa.Column(sa.Text, nullable=True)
    error = sa.Column(sa.Text, nullable=True)
    user_id = sa.Column(sa.Integer, sa.ForeignKey("core_user.id"), nullable=True)

    connection = relationship("Connection")
    mapping = relationship("Mapping")


class Quarantine(HospitalOwned, db.Model):
    """A source row that could not be written, with the reason. One open entry per (mapping,
    natural key): a row that fails again updates its entry; a row that later syncs cleanly
    resolves it."""

    __tablename__ = "his_connector_quarantine"
    __table_args__ = (sa.UniqueConstraint("mapping_id", "natural_key"),
                      sa.Index("ix_his_connector_quarantine_open", "hospital_id", "resolved", "created_at"))
    __hcrm_audit__ = False  # raw HIS rows (with phones and ID numbers) stay out of the audit log

    id = sa.Column(sa.Integer, primary_key=True)
    mapping_id = sa.Column(sa.Integer, sa.ForeignKey("his_connector_mapping.id", ondelete="CASCADE"),
                           nullable=False)
    run_id = sa.Column(sa.Integer, sa.ForeignKey("his_connector_run.id", ondelete="SET NULL"), nullable=True)
    entity = sa.Column(sa.String(16), nullable=False)
    natural_key = sa.Column(sa.String(128), nullable=False)
    raw = sa.Column(sa.Text, nullable=False)  # the source row as JSON text
    reason = sa.Column(sa.Text, nullable=False)
    resolved = sa.Column(sa.Boolean, nullable=False, default=False, server_default=sa.false())
    resolved_at = sa.Column(sa.DateTime, nullable=True)
    resolved_by_id = sa.Column(sa.Integer, sa.ForeignKey("core_user.id"), nullable=True)
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
    updated_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)

    mapping = relationship("Mapping")


class DiseaseOrigin(HospitalOwned, db.Model):
    """A disease of the catalogue (patients plugin) that a connection added from the HIS: a
    visit's code missing from the catalogue, or a row of the HIS's ICD dictionary (the diseases
    entity). ``pinyin`` is the HIS's pinyin abbreviation of the name, when it has one."""

    __tablename__ = "his_connector_disease_origin"
    __table_args__ = (sa.UniqueConstraint("disease_id"),)
    __hcrm_audit__ = False  # the run log records each sync

    id = sa.Column(sa.Integer, primary_key=True)
    disease_id = sa.Column(sa.Integer, sa.ForeignKey("patients_disease.id", ondelete="CASCADE"), nullable=False)
    connection_id = sa.Column(sa.Integer, sa.ForeignKey("his_connector_connection.id", ondelete="SET NULL"),
                              nullable=True, index=True)
    pinyin = sa.Column(sa.String(64), nullable=True)
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)


MODELS = [Connection, Mapping, Charge, Run, Quarantine, DiseaseOrigin]
