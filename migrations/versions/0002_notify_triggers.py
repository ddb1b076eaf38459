"""NOTIFY triggers that wake the worker and the syncer (PostgreSQL only)

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from app.models.processes import DROP, INBOX_TRIGGER, MEMBERS_TRIGGER, NOTIFY_FUNCTION

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite has no notifications: the loops poll
    op.execute(NOTIFY_FUNCTION)
    op.execute(INBOX_TRIGGER)
    op.execute(MEMBERS_TRIGGER)


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in DROP:
        op.execute(statement)
