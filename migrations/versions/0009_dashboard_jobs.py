"""dashboard_jobs: summary refreshes and rank-rules previews staff ask for, done by the worker

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

from app.models.types import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "dashboard_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("progress_done", sa.Integer(), nullable=False),
        sa.Column("progress_total", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("locked_by", sa.String(length=64), nullable=True),
        sa.Column("requested_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_dashboard_jobs_shop_id_shops"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dashboard_jobs")),
    )
    op.create_index(op.f("ix_dashboard_jobs_shop_id"), "dashboard_jobs", ["shop_id"])
    op.create_index("ix_dashboard_jobs_status_requested", "dashboard_jobs", ["status", "requested_at"])


def downgrade():
    op.drop_index("ix_dashboard_jobs_status_requested", table_name="dashboard_jobs")
    op.drop_index(op.f("ix_dashboard_jobs_shop_id"), table_name="dashboard_jobs")
    op.drop_table("dashboard_jobs")
