"""flow: the Shopify Flow trigger outbox, the watcher's member marks, applied action runs

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

from app.models.types import UTCDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "flow_triggers",
        sa.Column("id", BIGINT, nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("handle", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_flow_triggers_member_id_members"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_flow_triggers_shop_id_shops"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_triggers")),
        sa.UniqueConstraint("shop_id", "dedupe_key", name=op.f("uq_flow_triggers_shop_id_dedupe_key")),
    )
    with op.batch_alter_table("flow_triggers") as batch:
        batch.create_index("ix_flow_triggers_due", ["status", "next_attempt_at"], unique=False)
        batch.create_index(batch.f("ix_flow_triggers_member_id"), ["member_id"], unique=False)
        batch.create_index(batch.f("ix_flow_triggers_shop_id"), ["shop_id"], unique=False)

    op.create_table(
        "flow_member_marks",
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("seen_version", sa.Integer(), nullable=False),
        sa.Column("rank", sa.String(length=32), nullable=False),
        sa.Column("line_linked", sa.Boolean(), nullable=False),
        sa.Column("purchase_seen_id", BIGINT, nullable=False),
        sa.Column("expiry_noticed_until", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_flow_member_marks_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_flow_member_marks_shop_id_shops"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_flow_member_marks")),
    )
    with op.batch_alter_table("flow_member_marks") as batch:
        batch.create_index("ix_flow_member_marks_shop_version", ["shop_id", "seen_version"], unique=False)

    op.create_table(
        "flow_action_runs",
        sa.Column("id", BIGINT, nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("action_run_id", sa.String(length=128), nullable=False),
        sa.Column("handle", sa.String(length=32), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("applied_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_flow_action_runs_member_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_flow_action_runs_shop_id_shops"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_action_runs")),
        sa.UniqueConstraint(
            "shop_id", "action_run_id", name=op.f("uq_flow_action_runs_shop_id_action_run_id")
        ),
    )


def downgrade():
    op.drop_table("flow_action_runs")
    with op.batch_alter_table("flow_member_marks") as batch:
        batch.drop_index("ix_flow_member_marks_shop_version")
    op.drop_table("flow_member_marks")
    with op.batch_alter_table("flow_triggers") as batch:
        batch.drop_index(batch.f("ix_flow_triggers_shop_id"))
        batch.drop_index(batch.f("ix_flow_triggers_member_id"))
        batch.drop_index("ix_flow_triggers_due")
    op.drop_table("flow_triggers")
