"""Moments as integer seconds since 0001-01-01 local time, written as RFC 3339 in Europe/Amsterdam."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAY = 86_400
_AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def moment(day: date, seconds: int = 0) -> int:
    return day.toordinal() * DAY + seconds


def day_of(at: int) -> date:
    return date.fromordinal(at // DAY)


class Rfc3339:
    """Formats moments; the UTC offset is looked up once per day (office hours never cross a switch)."""

    def __init__(self) -> None:
        self._offsets: dict[int, str] = {}

    def __call__(self, at: int) -> str:
        ordinal, seconds = divmod(at, DAY)
        offset = self._offsets.get(ordinal)
        if offset is None:
            noon = datetime.combine(date.fromordinal(ordinal), time(12), tzinfo=_AMSTERDAM)
            delta = noon.utcoffset() or timedelta(0)
            hours, rest = divmod(int(delta.total_seconds()), 3600)
            offset = self._offsets[ordinal] = f"{hours:+03d}:{rest // 60:02d}"
        hour, rest = divmod(seconds, 3600)
        return f"{date.fromordinal(ordinal).isoformat()}T{hour:02d}:{rest // 60:02d}:{rest % 60:02d}{offset}"
