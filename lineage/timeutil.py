"""Time parsing shared by input, options and answers. All times are aware and in UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from lineage.errors import InputError


def parse_time(text: Any, *, assume_utc: bool = False, where: str | None = None) -> datetime:
    """Parse ISO 8601 (``2024-01-15T09:30:00Z``, ``+01:00``). A date means its midnight UTC.
    Errors name ``where`` (an option such as ``--as-of``) when given."""
    if isinstance(text, datetime):
        value = text
    else:
        if not isinstance(text, str) or not text.strip():
            raise InputError(f"{text!r} is not a timestamp", where)
        try:
            value = datetime.fromisoformat(text.strip())
        except ValueError:
            raise InputError(
                f"{text!r} is not an ISO 8601 timestamp (e.g. 2024-01-15T09:30:00Z)", where
            ) from None
    if value.tzinfo is None:
        if not assume_utc and isinstance(text, str) and "T" in text:
            raise InputError(f"timestamp {text!r} has no time zone (add Z or +01:00)", where)
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise InputError(
            f"timestamp {text!r} is out of range: in UTC it falls before year 1 or after 9999",
            where,
        ) from None


@lru_cache(maxsize=1024)
def _parse_duration_cached(text: str) -> Any:
    import isodate

    try:
        duration = isodate.parse_duration(text)
    except (isodate.ISO8601Error, ValueError):
        raise InputError(f"{text!r} is not an ISO 8601 duration (e.g. P2Y, P6M, P26W)") from None
    reference = datetime(2000, 1, 1, tzinfo=UTC)
    try:
        later = reference + duration
    except (OverflowError, ValueError):
        raise InputError(f"duration {text!r} reaches beyond the calendar (year 9999)") from None
    if later <= reference:
        raise InputError(f"duration {text!r} must be positive")
    return duration


def parse_duration(text: Any) -> Any:
    """Parse an ISO 8601 duration (P5Y, P26W, P6M). Returns a value addable to a datetime."""
    if not isinstance(text, str):
        raise InputError(f"{text!r} is not an ISO 8601 duration (e.g. P2Y, P6M, P26W)")
    return _parse_duration_cached(text)


def add_duration(start: datetime, text: str) -> datetime:
    """``start`` plus the duration; past the calendar's end (year 9999) it is that end:
    data kept "P5Y" from 9998 is kept for as long as anything can be reckoned."""
    try:
        result: datetime = start + parse_duration(text)
    except (OverflowError, ValueError):
        return datetime.max.replace(tzinfo=UTC)
    return result


def iso(value: datetime | None) -> str | None:
    """Render a UTC time as ``2024-01-15T09:30:00Z`` (microseconds only when present)."""
    if value is None:
        return None
    value = value.astimezone(UTC)
    text = value.isoformat(timespec="microseconds" if value.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def now() -> datetime:
    return datetime.now(UTC)
