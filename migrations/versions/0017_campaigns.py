"""campaigns: campaigns, awards, birth month

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

import app.models.types

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("starts_at", app.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", app.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("started_at", app.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("stopped_at", app.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("multiplier", sa.Numeric(precision=6, scale=2), nullable=True),
        sa.Column("bonus_points", sa.Integer(), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("lapse_days", sa.Integer(), nullable=True),
        sa.Column("bonus_expiry_days", sa.Integer(), nullable=True),
        sa.Column("reward", sa.String(length=16), nullable=False),
        sa.Column("code_kind", sa.String(length=16), nullable=True),
        sa.Column("code_value", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("code_valid_days", sa.Integer(), nullable=True),
        sa.Column("budget", sa.Integer(), nullable=True),
        sa.Column("granted", sa.Integer(), nullable=False),
        sa.Column("holdout_pct", sa.Integer(), nullable=False),
        sa.Column("created_at", app.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_campaigns_shop_id_shops"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.create_index("ix_campaigns_shop_status", ["shop_id", "status"], unique=False)

    op.create_table(
        "campaign_awards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("occasion", sa.String(length=120), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("occurred_at", app.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("purchase_key", sa.String(length=112), nullable=True),
        sa.Column("code", sa.String(length=32), nullable=True),
        sa.Column("code_status", sa.String(length=16), nullable=True),
        sa.Column("discount_gid", sa.String(length=128), nullable=True),
        sa.Column("code_expires_at", app.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("code_error", sa.Text(), nullable=True),
        sa.Column("created_at", app.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_awards_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_campaign_awards_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_campaign_awards_shop_id_shops"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_awards")),
        sa.UniqueConstraint(
            "campaign_id",
            "member_id",
            "occasion",
            name=op.f("uq_campaign_awards_campaign_id_member_id_occasion"),
        ),
    )
    with op.batch_alter_table("campaign_awards", schema=None) as batch_op:
        batch_op.create_index("ix_campaign_awards_campaign_status", ["campaign_id", "status"], unique=False)
        batch_op.create_index("ix_campaign_awards_code_status", ["shop_id", "code_status"], unique=False)
        batch_op.create_index("ix_campaign_awards_member", ["member_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_campaign_awards_shop_id"), ["shop_id"], unique=False)

    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("birth_month", sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("birth_month")

    with op.batch_alter_table("campaign_awards", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaign_awards_shop_id"))
        batch_op.drop_index("ix_campaign_awards_member")
        batch_op.drop_index("ix_campaign_awards_code_status")
        batch_op.drop_index("ix_campaign_awards_campaign_status")

    op.drop_table("campaign_awards")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_index("ix_campaigns_shop_status")

    op.drop_table("campaigns")
