"""opening_imports: opening-balance files, applied once per content hash; member_rebuilds: batched rebuilds

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

from app.models.types import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "opening_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("applied_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("shop_id", "sha256"),
    )
    op.create_index("ix_opening_imports_shop_id", "opening_imports", ["shop_id"])
    op.create_table(
        "member_rebuilds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("member_ids", sa.JSON(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_member_rebuilds_shop_id", "member_rebuilds", ["shop_id"])
    op.create_index("ix_member_rebuilds_status", "member_rebuilds", ["status"])


def downgrade():
    op.drop_index("ix_member_rebuilds_status", table_name="member_rebuilds")
    op.drop_index("ix_member_rebuilds_shop_id", table_name="member_rebuilds")
    op.drop_table("member_rebuilds")
    op.drop_index("ix_opening_imports_shop_id", table_name="opening_imports")
    op.drop_table("opening_imports")
