"""Dates stage: publication dates as outlets write them -> ISO 8601 UTC.

Pure. Feeds, sitemaps and JSON Feeds write dates with a zone (``2025-06-18T10:42:00+05:00``,
``Wed, 18 Jun 2025 10:42:00 +0500``), without one (``2025-06-18 10:42``) or as a bare day
(``2025-06-18``). A date without a zone is read in the source's ``timezone:`` (UTC when it sets none):
Central Asian outlets that drop the zone mean their local time, five or six hours ahead of UTC.
A date more than a day in the future (a wrong zone, a typo, a scheduled post) is clamped to the
fetch time and flagged, so it neither sorts above every real story nor hides in the future.

>>> parse_date("2025-06-18 10:42", zone("Asia/Tashkent"))
datetime.datetime(2025, 6, 18, 5, 42, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from email.utils import parsedate_to_datetime
from functools import lru_cache

__all__ = ["zone", "parse_date", "iso", "has_zone", "clamp_future", "FUTURE_SLACK"]

FUTURE_SLACK = timedelta(days=1)

_OFFSET = re.compile(r"^(?:UTC|GMT)?\s*([+-])(\d{1,2}):?(\d{2})?$", re.IGNORECASE)
# ISO 8601 as outlets write it: date, optional time (T or space), optional fraction and zone
_ISO = re.compile(
    r"^\s*(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?)?\s*$",
    re.IGNORECASE,
)
# RFC 822 zones: numeric, or a name email.utils knows (GMT, UT, EST ...). Anything else is "no zone".
_RFC822_ZONE = re.compile(r"(?:[+-]\d{4}|\b(?:GMT|UTC?|Z|[ECMP][SD]T)\b)\s*$", re.IGNORECASE)


@lru_cache(maxsize=64)
def zone(name: str | None) -> tzinfo:
    """``Asia/Tashkent``, ``+05:00``, ``UTC+6`` -> tzinfo; None -> UTC. Raises ValueError."""
    if not name:
        return UTC
    m = _OFFSET.match(name.strip())
    if m:
        sign, hours, minutes = m.group(1), int(m.group(2)), int(m.group(3) or 0)
        if hours > 14 or minutes > 59:
            raise ValueError(f"{name!r} is not a UTC offset")
        delta = timedelta(hours=hours, minutes=minutes)
        return timezone(-delta if sign == "-" else delta)
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not a time zone (examples: Asia/Almaty, Asia/Tashkent, +05:00)") from None


def has_zone(raw: str) -> bool:
    """Does this date string say which zone it is in?"""
    raw = raw.strip()
    m = _ISO.match(raw)
    if m:
        return bool(m.group(7))
    return bool(_RFC822_ZONE.search(raw))


def parse_date(raw: str | None, tz: tzinfo | None = None) -> datetime | None:
    """ISO 8601 or RFC 822 -> aware UTC datetime; a date without a zone is read in ``tz``. None when
    the string is not a date."""
    if not raw or not raw.strip():
        return None
    tz = tz or UTC
    if len(raw) >= 10 and raw[4:5] == "-":
        # fast path (C) for the ISO 8601 that sitemaps are made of; the regex below handles the rest
        try:
            dt = datetime.fromisoformat(raw.strip())
        except ValueError:
            pass
        else:
            return (dt if dt.tzinfo else dt.replace(tzinfo=tz)).astimezone(UTC)
    m = _ISO.match(raw)
    try:
        if m:
            y, mo, d, h, mi, s, z = m.groups()
            dt = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0))
            if z:
                if z.upper() == "Z":
                    return dt.replace(tzinfo=UTC)
                sign = -1 if z[0] == "-" else 1
                digits = z[1:].replace(":", "")
                offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
                return (dt.replace(tzinfo=timezone(sign * offset))).astimezone(UTC)
            return dt.replace(tzinfo=tz).astimezone(UTC)
        dt = parsedate_to_datetime(raw.strip())
    except (ValueError, TypeError, IndexError, OverflowError):
        return None
    if dt is None:
        return None
    if dt.tzinfo is None or not has_zone(raw):
        # email.utils reads "-0000" and a missing zone alike as naive: the outlet's zone applies
        dt = dt.replace(tzinfo=tz)
    return dt.astimezone(UTC)


def iso(dt: datetime | date | None) -> str | None:
    if dt is None:
        return None
    if not isinstance(dt, datetime):
        return dt.isoformat()
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def clamp_future(published: str | None, fetched: str) -> tuple[str | None, str | None]:
    """(published, note): a date more than a day after the fetch time becomes the fetch time,
    with a note saying what the outlet wrote."""
    when = parse_date(published) if published else None
    now = parse_date(fetched)
    if when is None or now is None or when <= now + FUTURE_SLACK:
        return published, None
    return fetched, f"future date {published} clamped to fetch time"


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date; None when absent
    or unreadable (the ordinary backoff applies then)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())
