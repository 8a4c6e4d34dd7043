"""Calendars of the rulebook: China-midnight days (R-T14) and Chinese working days (R-T12)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from core.calendar import add_working_days, calendar_health, compute_due
from core.models import CalendarDay
from core.rulebook import Calendar

CHINA = ZoneInfo("Asia/Shanghai")


def china(*args: int) -> dt.datetime:
    return dt.datetime(*args).replace(tzinfo=CHINA)


@pytest.mark.django_db
def test_working_days_skip_a_weekend():
    # Friday 15:00 + 5 working days = next Friday 15:00
    due, note = add_working_days(china(2026, 11, 20, 15, 0), 5)
    assert due == china(2026, 11, 27, 15, 0)
    assert note == ""


@pytest.mark.django_db
def test_working_days_skip_national_day_and_count_the_make_up_saturday():
    # Tue 29 Sep 2026 10:00 + 5 working days: 30 Sep, (1-7 Oct holiday), 8, 9, 10 (make-up Sat), 12 Oct.
    due, _ = add_working_days(china(2026, 9, 29, 10, 0), 5)
    assert due == china(2026, 10, 12, 10, 0)


@pytest.mark.django_db
def test_a_start_on_a_rest_day_counts_from_the_next_working_morning():
    due, _ = add_working_days(china(2026, 11, 21, 22, 0), 1)  # Saturday night
    assert due == china(2026, 11, 24, 0, 0)  # Monday counts whole: due at Tuesday 00:00


@pytest.mark.django_db
def test_an_unannounced_year_counts_weekends_only_and_says_so():
    due, note = add_working_days(china(2030, 12, 31, 9, 0), 3)
    assert due == china(2031, 1, 3, 9, 0)
    assert "2031" in note and "weekends only" in note
    assert any("2027" in w for w in calendar_health(dt.date(2026, 11, 22)))


@pytest.mark.django_db
def test_an_operator_added_holiday_is_honoured():
    CalendarDay.objects.create(date=dt.date(2031, 1, 2), is_working_day=False, note="announced later")
    due, _ = add_working_days(china(2030, 12, 31, 9, 0), 3)
    assert due == china(2031, 1, 6, 9, 0)


def test_r_t14_counts_168_hours_from_the_next_china_midnight():
    # Signed 23:59:59 China time: the window opens at 00:00 the next day and lasts 7 × 24 h.
    due, _ = compute_due(china(2026, 11, 10, 23, 59, 59), 7, Calendar.DAYS_FROM_NEXT_CHINA_MIDNIGHT)
    assert due == china(2026, 11, 18, 0, 0)
    # One second later it is already the next China day.
    due, _ = compute_due(china(2026, 11, 11, 0, 0, 0), 7, Calendar.DAYS_FROM_NEXT_CHINA_MIDNIGHT)
    assert due == china(2026, 11, 19, 0, 0)
    # The same instant written in UTC gives the same answer: day boundaries are China's.
    utc = china(2026, 11, 10, 23, 59, 59).astimezone(dt.UTC)
    assert compute_due(utc, 7, Calendar.DAYS_FROM_NEXT_CHINA_MIDNIGHT)[0] == china(2026, 11, 18, 0, 0)
