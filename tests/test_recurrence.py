"""When a schedule is due, as plain data: durations, cron expressions in a time zone (across
the days a clock skips or repeats an hour), and the next due time after a moment."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from jobmagics.errors import InvalidJob
from jobmagics.recurrence import Rhythm, clock, format_every, parse_every

BERLIN = ZoneInfo("Europe/Berlin")


def at(*parts: int, zone: ZoneInfo = BERLIN, fold: int = 0) -> float:
    return datetime(*parts, tzinfo=zone, fold=fold).timestamp()  # type: ignore[misc]


def local(moment: float) -> str:
    return datetime.fromtimestamp(moment, BERLIN).isoformat()


@pytest.mark.parametrize(("text", "seconds"), [
    ("90s", 90), ("30m", 1800), ("1h", 3600), ("1d", 86400), ("1.5h", 5400), ("2", 2),
    (2, 2), (7.5, 7.5)])
def test_a_duration_is_a_number_and_a_unit(text: object, seconds: float) -> None:
    assert parse_every(text) == seconds


@pytest.mark.parametrize("text", ["0", "1x", "", "h", "-1h", "0s", "1h30", 0, -5, True, None,
                                  "400d", "nan"])
def test_a_bad_duration_is_refused_in_one_sentence(text: object) -> None:
    with pytest.raises(InvalidJob) as caught:
        parse_every(text)
    assert "\n" not in str(caught.value)


def test_a_rhythm_needs_exactly_one_of_every_and_cron() -> None:
    with pytest.raises(InvalidJob, match="exactly one"):
        Rhythm.of()
    with pytest.raises(InvalidJob, match="exactly one"):
        Rhythm.of(every="1h", cron="0 * * * *")


def test_a_time_zone_goes_with_cron_only() -> None:
    with pytest.raises(InvalidJob, match="time zone goes with cron"):
        Rhythm.of(every="1h", tz="Europe/Berlin")


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../../etc/passwd", 5])
def test_an_unknown_time_zone_is_refused(zone: object) -> None:
    with pytest.raises(InvalidJob, match="time zone"):
        Rhythm.of(cron="0 * * * *", tz=zone)


@pytest.mark.parametrize("expression", ["* * *", "61 * * * *", "every hour", "* * * * * *",
                                        "0 0 31 2 *", ""])
def test_a_malformed_cron_expression_is_refused(expression: str) -> None:
    with pytest.raises(InvalidJob, match="cron"):
        Rhythm.of(cron=expression, tz="UTC")


def test_every_keeps_to_its_grid_from_the_anchor_not_to_when_it_was_late() -> None:
    rhythm = Rhythm.of(every="10s")
    assert rhythm.next_after(100.0, 100.0) == 110.0
    assert rhythm.next_after(100.0, 125.3) == 130.0
    assert rhythm.next_after(100.0, 130.0) == 140.0       # strictly after
    assert rhythm.next_after(100.0, 50.0) == 110.0        # never before its first due time


def test_missed_counts_the_due_times_a_late_tick_stands_for() -> None:
    rhythm = Rhythm.of(every="10s")
    assert rhythm.missed(100.0, 99.0) == 0
    assert rhythm.missed(100.0, 100.0) == 1
    assert rhythm.missed(100.0, 135.0) == 4               # 100, 110, 120, 130
    hourly = Rhythm.of(cron="0 * * * *", tz="UTC")
    start = at(2026, 1, 1, 10, 0, zone=ZoneInfo("UTC"))
    assert hourly.missed(start, start + 3 * 3600 + 10) == 4


def test_cron_times_are_wall_clock_times_of_its_zone() -> None:
    rhythm = Rhythm.of(cron="0 */2 * * *", tz="Europe/Berlin")
    first = rhythm.next_after(0, at(2026, 6, 1, 9, 15))
    assert local(first) == "2026-06-01T10:00:00+02:00"
    assert local(rhythm.next_after(0, first)) == "2026-06-01T12:00:00+02:00"


def test_a_daily_cron_run_stays_at_its_local_hour_across_the_autumn_change() -> None:
    rhythm = Rhythm.of(cron="0 9 * * *", tz="Europe/Berlin")
    saturday = rhythm.next_after(0, at(2026, 10, 24, 8, 0))
    sunday = rhythm.next_after(0, saturday)
    monday = rhythm.next_after(0, sunday)
    assert [local(t) for t in (saturday, sunday, monday)] == [
        "2026-10-24T09:00:00+02:00", "2026-10-25T09:00:00+01:00", "2026-10-26T09:00:00+01:00"]
    assert sunday - saturday == 25 * 3600                 # the day with an hour more


def test_an_hourly_cron_run_is_an_hour_apart_through_the_repeated_hour() -> None:
    rhythm = Rhythm.of(cron="0 * * * *", tz="Europe/Berlin")
    moment, gaps = at(2026, 10, 25, 1, 0), []
    for _ in range(4):
        later = rhythm.next_after(0, moment)
        gaps.append(later - moment)
        moment = later
    assert gaps == [3600.0] * 4                           # 02:00 CEST, 02:00 CET, 03:00, 04:00


def test_a_time_the_spring_change_skips_runs_once_that_day() -> None:
    rhythm = Rhythm.of(cron="30 2 * * *", tz="Europe/Berlin")
    saturday = rhythm.next_after(0, at(2026, 3, 28, 12, 0))
    monday = rhythm.next_after(0, saturday)
    assert local(saturday).startswith("2026-03-29T03:00")  # 02:30 does not exist that day
    assert local(monday) == "2026-03-30T02:30:00+02:00"


def test_rhythms_describe_themselves() -> None:
    assert Rhythm.of(every="90m").describe() == "every 1h30m"
    assert Rhythm.of(every=2).describe() == "every 2s"
    assert Rhythm.of(cron="0  */2 * * *", tz="UTC").describe() == "cron 0 */2 * * * (UTC)"
    assert format_every(86400) == "1d"
    assert clock(at(2026, 6, 1, 14, 0), "Europe/Berlin") == "14:00"
    assert clock(at(2026, 6, 1, 14, 0, 2), "Europe/Berlin") == "14:00:02"
