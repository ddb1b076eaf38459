"""process_heartbeats: worker and syncer processes say they are alive

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from app.models.types import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "process_heartbeats",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen", UTCDateTime(timezone=True), nullable=False),
        sa.Column("processed", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "holder", name=op.f("pk_process_heartbeats")),
    )
    op.create_index("ix_process_heartbeats_kind_last_seen", "process_heartbeats", ["kind", "last_seen"])


def downgrade():
    op.drop_index("ix_process_heartbeats_kind_last_seen", table_name="process_heartbeats")
    op.drop_table("process_heartbeats")
