"""Event-time ledger: lots keyed by what created them, opening balances' expiry, cancellation instants,
and each member's next due instant for daily upkeep

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from app.models.types import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("ledger_transactions") as batch:
        batch.add_column(sa.Column("expires_at", UTCDateTime(timezone=True), nullable=True))
        batch.create_index("ix_ledger_transactions_member_effective", ["member_id", "effective_at", "id"])
    with op.batch_alter_table("point_lots") as batch:
        batch.add_column(sa.Column("key", sa.String(length=112), nullable=True))
        batch.add_column(sa.Column("expires_at", UTCDateTime(timezone=True), nullable=True))
    # Lots made before the replay engine get a key of their own; the member's next replay replaces them.
    op.execute("UPDATE point_lots SET key = 'legacy:' || CAST(id AS VARCHAR(20))")
    with op.batch_alter_table("point_lots") as batch:
        batch.alter_column("key", existing_type=sa.String(length=112), nullable=False)
        batch.create_unique_constraint("uq_point_lots_member_id_key", ["member_id", "key"])
    with op.batch_alter_table("purchases") as batch:
        batch.add_column(sa.Column("cancelled_at", UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("rules_version", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("members") as batch:
        batch.add_column(sa.Column("next_due_at", UTCDateTime(timezone=True), nullable=True))
        batch.create_index("ix_members_shop_next_due", ["shop_id", "next_due_at"])


def downgrade():
    with op.batch_alter_table("members") as batch:
        batch.drop_index("ix_members_shop_next_due")
        batch.drop_column("next_due_at")
    with op.batch_alter_table("purchases") as batch:
        batch.drop_column("rules_version")
        batch.drop_column("cancelled_at")
    with op.batch_alter_table("point_lots") as batch:
        batch.drop_constraint("uq_point_lots_member_id_key", type_="unique")
        batch.drop_column("expires_at")
        batch.drop_column("key")
    with op.batch_alter_table("ledger_transactions") as batch:
        batch.drop_index("ix_ledger_transactions_member_effective")
        batch.drop_column("expires_at")
