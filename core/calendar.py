"""Clock arithmetic for the rulebook's calendars: hours, days, China-midnight days, working days.

Working days skip weekends and Chinese public holidays and count the official make-up days (调休)
as working days, from the maintained `chinesecalendar` package. Operators can add or correct days
in the admin (`core.CalendarDay`) without a release. For a year the package does not know yet we
count weekends only, and say so: the returned note is stored on the deadline (RULEBOOK §2).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import chinese_calendar

from .rulebook import Calendar

CHINA = ZoneInfo("Asia/Shanghai")

UNKNOWN_YEAR_NOTE = "working days of {year} not announced yet: counted weekends only"


def _overrides(start: dt.date, end: dt.date) -> dict[dt.date, bool]:
    from .models import CalendarDay

    return dict(CalendarDay.objects.filter(date__range=(start, end)).values_list("date", "is_working_day"))


def is_working_day(day: dt.date, overrides: dict[dt.date, bool] | None = None) -> tuple[bool, bool]:
    """(is it a working day, is that known from an announced calendar)."""
    if overrides is not None and day in overrides:
        return overrides[day], True
    try:
        return bool(chinese_calendar.is_workday(day)), True
    except NotImplementedError:
        return day.weekday() < 5, False


def add_working_days(start: dt.datetime, days: int) -> tuple[dt.datetime, str]:
    """The same China clock time on the `days`-th working day after `start`.

    A start on a rest day counts from 00:00 of the next working day.
    """
    local = start.astimezone(CHINA)
    overrides = _overrides(local.date(), local.date() + dt.timedelta(days=days * 3 + 30))
    unknown_years: set[int] = set()

    def working(day: dt.date) -> bool:
        ok, known = is_working_day(day, overrides)
        if not known:
            unknown_years.add(day.year)
        return ok

    if not working(local.date()):
        day = local.date() + dt.timedelta(days=1)
        while not working(day):
            day += dt.timedelta(days=1)
        local = dt.datetime.combine(day, dt.time(0, 0), tzinfo=CHINA)
    day = local.date()
    remaining = days
    while remaining > 0:
        day += dt.timedelta(days=1)
        if working(day):
            remaining -= 1
    due = dt.datetime.combine(day, local.timetz().replace(tzinfo=None), tzinfo=CHINA)
    note = "; ".join(UNKNOWN_YEAR_NOTE.format(year=y) for y in sorted(unknown_years))
    return due, note


def compute_due(start: dt.datetime, amount: int, calendar: Calendar | str) -> tuple[dt.datetime, str]:
    """When a clock of `amount` units of `calendar` started at `start` runs out, and a warning note."""
    calendar = Calendar(calendar)
    if calendar == Calendar.HOURS:
        return start + dt.timedelta(hours=amount), ""
    if calendar == Calendar.DAYS:
        return start + dt.timedelta(days=amount), ""
    if calendar == Calendar.DAYS_FROM_NEXT_CHINA_MIDNIGHT:
        next_midnight = dt.datetime.combine(
            start.astimezone(CHINA).date() + dt.timedelta(days=1), dt.time(0, 0), tzinfo=CHINA
        )
        return next_midnight + dt.timedelta(days=amount), ""
    return add_working_days(start, amount)


def calendar_health(today: dt.date | None = None) -> list[str]:
    """Warnings for the health check: the next year's working days not announced yet."""
    today = today or dt.datetime.now(CHINA).date()
    warnings = []
    for year in (today.year, today.year + 1):
        try:
            chinese_calendar.is_workday(dt.date(year, 6, 1))
        except NotImplementedError:
            warnings.append(UNKNOWN_YEAR_NOTE.format(year=year))
    return warnings
