"""analytics_snapshots: the analytics page's figures per shop, computed by the worker

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

from app.models.types import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "analytics_snapshots",
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("computed_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("requested_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_analytics_snapshots_shop_id_shops"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("shop_id", name=op.f("pk_analytics_snapshots")),
    )


def downgrade():
    op.drop_table("analytics_snapshots")
