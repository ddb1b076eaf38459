"""Group commit: deliveries that arrive while this process is committing share the next transaction.

Each 200 promises a durable row, so each delivery waits for a commit, and a commit waits for the database's
WAL flush: on a busy disk that flush, not the insert, bounds the rate (measured on the benchmark machine:
about 300 single-row commits/s, 2,300 rows/s in commits of 10). So one thread at a time per process writes
every delivery waiting at that moment in one multi-row INSERT ... ON CONFLICT DO NOTHING (one statement in
autocommit: one commit), then hands the next batch to the first thread still waiting. A lone delivery is
written at once, alone, on the single-row path. Nothing is answered before its batch committed.
"""

from __future__ import annotations

import functools
import threading

from sqlalchemy import Insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from app.jobs.inbox import Delivery, InboxBusy, InboxWriter
from app.jobs.inbox import _values as row_values
from app.models.inbox import InboxEvent

MAX_BATCH = 64  # rows per statement: 16 parameters each, well under every driver's limit


@functools.cache
def _insert_many(dialect: str) -> Insert:
    """The inbox insert with the key of each row written, so the caller knows which were duplicates."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = InboxEvent.__table__
    return (
        insert(table)
        .on_conflict_do_nothing(index_elements=["source", "shop_domain", "delivery_id"])
        .returning(table.c.source, table.c.shop_domain, table.c.delivery_id)
    )


class _Pending:
    __slots__ = ("created", "delivery", "error", "lead", "ready", "written")

    def __init__(self, delivery: Delivery) -> None:
        self.delivery = delivery
        self.ready = threading.Event()  # set when written (or failed), or when handed the next batch
        self.lead = False
        self.written = False  # only a written row may be answered 200
        self.created = False
        self.error: BaseException | None = None

    def result(self) -> bool:
        if self.error is not None:
            raise self.error
        if not self.written:
            raise InboxBusy("the batch ended without writing this delivery")
        return self.created


class GroupCommit:
    """Per process: at most one batch in flight; the others' deliveries queue for the next one.

    A delivery not taken into a batch within `wait_seconds` is withdrawn with InboxBusy (the caller sheds
    it: 503, retried by Shopify); one taken is answered when its batch has committed or failed.
    """

    def __init__(self, writer: InboxWriter, wait_seconds: float) -> None:
        self.writer = writer
        self.wait_seconds = wait_seconds
        self._lock = threading.Lock()
        self._queue: list[_Pending] = []
        self._busy = False
        self.batches = 0  # statements written, and the rows in them: how well commits are shared
        self.rows = 0

    def write(self, delivery: Delivery) -> bool:
        """True when a row was written, False for a duplicate; InboxBusy or the database's error else."""
        item = _Pending(delivery)
        with self._lock:
            self._queue.append(item)
            item.lead = not self._busy
            self._busy = True
        if not item.lead:
            if not item.ready.wait(self.wait_seconds):
                with self._lock:
                    if not item.lead and item in self._queue:
                        self._queue.remove(item)
                        raise InboxBusy("not taken into a batch within the wait budget")
            item.ready.wait()  # taken into the batch being written, or handed the next one
        if item.lead:
            self._lead()
        return item.result()

    def _lead(self) -> None:
        """Write what is queued now, then pass the lead to the first delivery still waiting, if any."""
        with self._lock:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
        try:
            self._write(batch)
        finally:
            for item in batch:
                item.lead = False
                item.ready.set()
            with self._lock:
                if self._queue:
                    self._queue[0].lead = True
                    self._queue[0].ready.set()
                else:
                    self._busy = False

    def _write(self, batch: list[_Pending]) -> None:
        self.batches += 1
        self.rows += len(batch)
        if len(batch) > 1:
            try:
                self._write_many(batch)
                return
            except InboxBusy as exc:
                for item in batch:
                    item.error = exc
                return
            except SQLAlchemyError:
                pass  # one bad row (a shop deleted meanwhile) must not fail the others: one by one
        for item in batch:
            try:
                item.created = self.writer.write(item.delivery)
            except Exception as exc:  # handed to the delivery's own thread, which raises it
                item.error = exc
            else:
                item.written = True

    def _write_many(self, batch: list[_Pending]) -> None:
        with self.writer.connect() as conn:
            rows = [row_values(item.delivery) for item in batch]
            written = {tuple(row) for row in conn.execute(_insert_many(conn.dialect.name), rows)}
        for item in batch:
            key = (item.delivery.source, item.delivery.shop_domain, item.delivery.delivery_id)
            item.created = key in written
            item.written = True
            written.discard(key)  # the same delivery twice in one batch: the second is a duplicate
