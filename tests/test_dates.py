"""Dates stage: zones, naive dates in the source's zone, future dates clamped."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crawler.dates import clamp_future, has_zone, parse_date, zone


@pytest.mark.parametrize("raw, tz, expected", [
    ("2026-06-18T10:42:00+05:00", None, "2026-06-18T05:42:00"),
    ("2026-06-18T10:42:00Z", "Asia/Tashkent", "2026-06-18T10:42:00"),
    ("2026-06-18 10:42", "Asia/Tashkent", "2026-06-18T05:42:00"),
    ("2026-06-18", "Asia/Almaty", "2026-06-17T19:00:00"),
    ("Wed, 18 Jun 2026 10:42:00 +0600", "Asia/Tashkent", "2026-06-18T04:42:00"),
    ("Wed, 18 Jun 2026 10:42:00 GMT", "Asia/Tashkent", "2026-06-18T10:42:00"),
    ("Wed, 18 Jun 2026 10:42:00", "Asia/Dushanbe", "2026-06-18T05:42:00"),
    ("18 Jun 2026 10:42", "+06:00", "2026-06-18T04:42:00"),
])
def test_parse_date(raw, tz, expected):
    assert parse_date(raw, zone(tz)) == datetime.fromisoformat(expected).replace(tzinfo=UTC)


@pytest.mark.parametrize("raw", ["", "вчера", "2026-13-45", "32 Foo 2026"])
def test_not_a_date(raw):
    assert parse_date(raw) is None


def test_has_zone():
    assert has_zone("2026-06-18T10:42:00+05:00") and has_zone("Wed, 18 Jun 2026 10:42:00 GMT")
    assert not has_zone("2026-06-18 10:42") and not has_zone("Wed, 18 Jun 2026 10:42:00")


def test_bad_zone_names():
    with pytest.raises(ValueError, match="not a time zone"):
        zone("Asia/Bishkekk")


def test_future_dates_clamped_and_flagged_within_a_day_kept():
    assert clamp_future("2026-06-19T08:00:00Z", "2026-06-18T10:00:00Z") == ("2026-06-19T08:00:00Z", None)
    assert clamp_future("2026-06-21T00:00:00Z", "2026-06-18T10:00:00Z") == (
        "2026-06-18T10:00:00Z", "future date 2026-06-21T00:00:00Z clamped to fetch time")
    assert clamp_future(None, "2026-06-18T10:00:00Z") == (None, None)
