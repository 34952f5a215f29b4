"""hotline: calls

Revision ID: f1322eb2f55f
Revises:
Create Date: 2026-12-07 04:00:00.000000

The first revision of the hotline branch. It depends on the heads of the core and of patients
(the plugin's dependency) at the time it was written, so their tables exist first.
"""
from alembic import op
import sqlalchemy as sa


revision = "f1322eb2f55f"
down_revision = None
branch_labels = ("hotline",)
depends_on = ("c5a7f0e1d205", "3a19f0f4a58c")


def upgrade():
    op.create_table(
        "hotline_call",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("tag", sa.String(length=32), nullable=True),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["department_id"], ["core_department.id"],
                                name=op.f("fk_hotline_call_department_id_core_department")),
        sa.ForeignKeyConstraint(["hospital_id"], ["core_hospital.id"],
                                name=op.f("fk_hotline_call_hospital_id_core_hospital")),
        sa.ForeignKeyConstraint(["owner_id"], ["core_user.id"], name=op.f("fk_hotline_call_owner_id_core_user")),
        sa.ForeignKeyConstraint(["patient_id"], ["patients_patient.id"],
                                name=op.f("fk_hotline_call_patient_id_patients_patient")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hotline_call")),
    )
    op.create_index(op.f("ix_hotline_call_department_id"), "hotline_call", ["department_id"], unique=False)
    op.create_index(op.f("ix_hotline_call_hospital_id"), "hotline_call", ["hospital_id"], unique=False)
    op.create_index(op.f("ix_hotline_call_owner_id"), "hotline_call", ["owner_id"], unique=False)
    op.create_index(op.f("ix_hotline_call_patient_id"), "hotline_call", ["patient_id"], unique=False)
    op.create_index(op.f("ix_hotline_call_phone"), "hotline_call", ["phone"], unique=False)


def downgrade():
    op.drop_table("hotline_call")
