"""The simulation calendar: day indices and UTC timestamps in integer microseconds.

Every timestamp the simulator handles is an ``int64`` count of microseconds since the Unix
epoch (UTC), the unit of :data:`fraudlake.schemas.TS`, so Arrow conversion is a
zero-cost reinterpretation and day arithmetic stays exact.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

US_PER_SECOND = 1_000_000
SECONDS_PER_DAY = 86_400
US_PER_DAY = SECONDS_PER_DAY * US_PER_SECOND

_EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True)
class Timeline:
    """Days ``0 .. days-1`` starting at ``start_date`` 00:00 UTC.

    The simulation covers the half-open interval ``[start_us, end_us)``; anything dated at
    or after ``end_us`` (a label or an intel report) is "not known yet" when the
    simulation ends.
    """

    start_date: dt.date
    days: int

    @property
    def start_us(self) -> int:
        """Midnight UTC of day 0, in microseconds since the epoch."""
        return (self.start_date - _EPOCH).days * US_PER_DAY

    @property
    def end_us(self) -> int:
        """Midnight UTC after the last day (exclusive end of the simulation)."""
        return self.start_us + self.days * US_PER_DAY

    def day_start_us(self, day: int) -> int:
        """Midnight UTC of day index ``day``."""
        return self.start_us + day * US_PER_DAY

    def date_of(self, day: int) -> dt.date:
        """Calendar date of day index ``day``."""
        return self.start_date + dt.timedelta(days=day)
