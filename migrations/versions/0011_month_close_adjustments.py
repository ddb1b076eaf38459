"""month_close_adjustments: late data found after a month-end close, recorded beside the close

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

from app.models.types import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "month_close_adjustments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("difference", sa.JSON(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_month_close_adjustments_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_month_close_adjustments")),
        sa.UniqueConstraint(
            "shop_id", "period", "sequence", name=op.f("uq_month_close_adjustments_shop_id_period_sequence")
        ),
    )
    with op.batch_alter_table("month_close_adjustments") as batch:
        batch.create_index(batch.f("ix_month_close_adjustments_shop_id"), ["shop_id"], unique=False)


def downgrade():
    with op.batch_alter_table("month_close_adjustments") as batch:
        batch.drop_index(batch.f("ix_month_close_adjustments_shop_id"))
    op.drop_table("month_close_adjustments")
