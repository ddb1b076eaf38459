"""PostgreSQL triggers that NOTIFY the worker and the syncer of new work (app/jobs/wakeup.py).

Statement-level triggers: one notification per statement at most, none on SQLite, and no extra round trip
in the webhook request or the worker's transaction. The same DDL is in migration 0002.
"""

from __future__ import annotations

from sqlalchemy import DDL, event

from app.extensions import db
from app.models.inbox import InboxEvent
from app.models.member import Member

NOTIFY_FUNCTION = """
CREATE OR REPLACE FUNCTION tsunagu_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_ARGV[0], '');
    RETURN NULL;
END
$$
"""
INBOX_TRIGGER = """
CREATE TRIGGER inbox_events_notify AFTER INSERT ON inbox_events
FOR EACH STATEMENT EXECUTE FUNCTION tsunagu_notify('tsunagu_inbox')
"""
MEMBERS_TRIGGER = """
CREATE TRIGGER members_notify AFTER INSERT OR UPDATE OF sync_version ON members
FOR EACH STATEMENT EXECUTE FUNCTION tsunagu_notify('tsunagu_sync')
"""
DROP = (
    "DROP TRIGGER IF EXISTS members_notify ON members",
    "DROP TRIGGER IF EXISTS inbox_events_notify ON inbox_events",
    "DROP FUNCTION IF EXISTS tsunagu_notify()",
)

# The function once, before any table; each trigger when its table is created.
event.listen(db.metadata, "before_create", DDL(NOTIFY_FUNCTION).execute_if(dialect="postgresql"))
event.listen(InboxEvent.__table__, "after_create", DDL(INBOX_TRIGGER).execute_if(dialect="postgresql"))
event.listen(Member.__table__, "after_create", DDL(MEMBERS_TRIGGER).execute_if(dialect="postgresql"))
