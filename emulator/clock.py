"""A virtual clock for the emulator's bucket and the app's pacer: time only moves when someone sleeps."""

from __future__ import annotations

from datetime import UTC, datetime

START = 1_790_000_000.0  # 2026-09-21T14:13:20Z


class VirtualClock:
    """Epoch seconds that tests and benchmarks move forward; shared by the emulator and the pacer's sleep."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)

    def utc(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)
