"""特药 recognitions and 双通道 pharmacy designations (pharmacy area, B11)

Revision ID: pharmacy_0001
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

revision = "pharmacy_0001"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dual_channel_drugs",
        sa.Column("fixmedins_code", sa.String(length=20), nullable=False),
        sa.Column("med_list_codg", sa.String(length=40), nullable=False),
        sa.Column("begndate", sa.Date(), nullable=False),
        sa.Column("enddate", sa.Date(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["fixmedins_code"], ["institutions.fixmedins_code"]),
        sa.PrimaryKeyConstraint("fixmedins_code", "med_list_codg"),
    )
    op.create_table(
        "special_drug_recognitions",
        sa.Column("recognition_id", sa.String(length=32), nullable=False),
        sa.Column("psn_no", sa.String(length=30), nullable=False),
        sa.Column("med_list_codg", sa.String(length=40), nullable=False),
        sa.Column("dise_codg", sa.String(length=20), nullable=False),
        sa.Column("fixmedins_code", sa.String(length=20), nullable=False),
        sa.Column("doctor_code", sa.String(length=30), nullable=False),
        sa.Column("begndate", sa.Date(), nullable=False),
        sa.Column("enddate", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("actor", sa.String(length=60), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(["psn_no"], ["persons.psn_no"]),
        sa.PrimaryKeyConstraint("recognition_id"),
    )
    op.create_index("ix_special_drug_recognitions_psn_no", "special_drug_recognitions", ["psn_no"])


def downgrade() -> None:
    op.drop_index("ix_special_drug_recognitions_psn_no", table_name="special_drug_recognitions")
    op.drop_table("special_drug_recognitions")
    op.drop_table("dual_channel_drugs")
