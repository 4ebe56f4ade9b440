"""users: session_version (``active`` comes from ops_0002), so that sessions and tokens can be revoked server-side

Revision ID: harden_0001
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

revision = "harden_0001"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("session_version", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("session_version")
