"""Scheduled exports' periods with a controlled clock: the right periods, DST days, catch-up, no repeats."""
import json
from datetime import date, datetime

import pytest

from convoflow.exporters.request import REQUEST_ID, local_range_us, parse_request
from convoflow.tables import schedule as rules
from convoflow.tables.schedule import Schedule, ScheduleError, due, parse_schedules, periods_ended, request_id


def us(text: str) -> int:
    """RFC 3339 -> UTC microseconds."""
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1_000_000)


def labels(periods):
    return [p.label for p in periods]


AMS_DAILY = Schedule("agent_metrics", "daily", "Europe/Amsterdam", since="2024-07-15")


def test_daily_periods_are_whole_local_days_ended_since():
    got = periods_ended(AMS_DAILY, AMS_DAILY.since_us(0), us("2024-07-18T10:00:00Z"))
    assert labels(got) == ["2024-07-15", "2024-07-16", "2024-07-17"]
    for p in got:  # the same range as the export request for that day
        assert (p.start_us, p.end_us) == local_range_us(AMS_DAILY.zone, date.fromisoformat(p.date_from),
                                                         date.fromisoformat(p.date_to))
        assert p.date_from == p.date_to == p.label


def test_a_day_is_due_exactly_at_local_midnight():
    since = AMS_DAILY.since_us(0)
    midnight = us("2024-07-17T22:00:00Z")  # 2024-07-18 00:00 in Amsterdam (UTC+2)
    assert labels(periods_ended(AMS_DAILY, since, midnight - 1))[-1] == "2024-07-16"
    assert labels(periods_ended(AMS_DAILY, since, midnight))[-1] == "2024-07-17"


def test_dst_days_are_23_and_25_hours():
    s = Schedule("teams", "daily", "Europe/Amsterdam", since="2024-03-30")
    spring = {p.label: p for p in periods_ended(s, s.since_us(0), us("2024-04-02T00:00:00Z"))}
    assert (spring["2024-03-31"].end_us - spring["2024-03-31"].start_us) == 23 * 3600 * 10**6
    assert (spring["2024-03-30"].end_us - spring["2024-03-30"].start_us) == 24 * 3600 * 10**6
    s = Schedule("teams", "daily", "Europe/Amsterdam", since="2024-10-26")
    autumn = {p.label: p for p in periods_ended(s, s.since_us(0), us("2024-10-29T00:00:00Z"))}
    assert (autumn["2024-10-27"].end_us - autumn["2024-10-27"].start_us) == 25 * 3600 * 10**6
    assert autumn["2024-10-27"].end_us == us("2024-10-27T23:00:00Z")


def test_a_day_whose_midnight_does_not_exist():
    # Havana moves its clocks from 00:00 to 01:00 (2024-03-10): the day starts at its first existing
    # instant, the same as an export request's range.
    s = Schedule("messages", "daily", "America/Havana", since="2024-03-09")
    got = {p.label: p for p in periods_ended(s, s.since_us(0), us("2024-03-12T12:00:00Z"))}
    p = got["2024-03-10"]
    assert (p.start_us, p.end_us) == local_range_us(s.zone, date(2024, 3, 10), date(2024, 3, 10))
    assert p.end_us - p.start_us == 23 * 3600 * 10**6


def test_weekly_periods_are_iso_weeks():
    s = Schedule("agent_metrics", "weekly", "UTC", since="2024-12-16")
    got = periods_ended(s, s.since_us(0), us("2025-01-08T00:00:00Z"))
    assert labels(got) == ["2024-W51", "2024-W52", "2025-W01"]
    w1 = got[-1]
    assert (w1.date_from, w1.date_to) == ("2024-12-30", "2025-01-05")  # ISO week 1 of 2025 starts in 2024
    assert w1.end_us == us("2025-01-06T00:00:00Z")
    # A week is due only once its Sunday has ended.
    assert labels(periods_ended(s, s.since_us(0), us("2025-01-05T23:59:59Z")))[-1] == "2024-W52"


def test_weekly_with_the_default_since_still_runs():
    s = Schedule("teams", "weekly", "Europe/Amsterdam")  # since 7 days back
    now = us("2024-07-24T10:00:00Z")  # a Wednesday
    assert labels(periods_ended(s, s.since_us(now), now)) == ["2024-W29"]


def test_hourly_labels_follow_local_hours_across_dst():
    s = Schedule("agent_metrics", "hourly", "Europe/Amsterdam", since="2024-10-27T00:00:00Z")
    got = periods_ended(s, s.since_us(0), us("2024-10-27T03:00:00Z"))
    # 00:00Z = 02:00+02:00, 01:00Z = 02:00+01:00 (the repeated hour), 02:00Z = 03:00+01:00
    assert labels(got) == ["2024-10-27T02+0200", "2024-10-27T02+0100", "2024-10-27T03+0100"]
    assert all(p.date_from == p.date_to == "2024-10-27" for p in got)
    assert len({request_id(s, p) for p in got}) == 3
    s = Schedule("agent_metrics", "hourly", "Europe/Amsterdam", since="2024-03-31T00:00:00Z")
    spring = labels(periods_ended(s, s.since_us(0), us("2024-03-31T03:00:00Z")))
    assert spring == ["2024-03-31T01+0100", "2024-03-31T03+0200", "2024-03-31T04+0200"]  # no 02:00 that day


def test_hourly_in_a_quarter_hour_zone():
    s = Schedule("teams", "hourly", "Asia/Kathmandu", since="2024-07-15T00:00:00Z")  # UTC+05:45
    got = periods_ended(s, s.since_us(0), us("2024-07-15T02:20:00Z"))
    assert [p.end_us for p in got] == [us("2024-07-15T00:15:00Z"), us("2024-07-15T01:15:00Z"), us("2024-07-15T02:15:00Z")]
    assert labels(got)[-1] == "2024-07-15T07+0545"


def test_hourly_is_due_for_the_latest_hour_only():
    s = Schedule("agent_metrics", "hourly", "UTC", since="1d")
    now = us("2024-07-15T14:05:00Z")
    got = due(s, now, lambda path: False)
    assert labels(got) == ["2024-07-15T13+0000"]
    body = rules.request_body(s, got[0])
    assert (body["date_from"], body["date_to"], body["as_of"]) == ("2024-07-15", "2024-07-15", "2024-07-15T14:00:00Z")


class Worker:
    """A scheduler's memory is the export folder: files written so far."""

    def __init__(self):
        self.files: set[str] = set()
        self.requested: list[str] = []

    def tick(self, schedules, now):
        sent = []
        for s in schedules:
            for p in due(s, now, self.files.__contains__):
                sent.append(request_id(s, p))
                self.files.add(rules.relative_path(s, p))
        self.requested += sent
        return sent


def test_catch_up_after_downtime_and_no_repeat_after_restart():
    schedules = [Schedule("agent_metrics", "daily", "Europe/Amsterdam", since="3d"),
                 Schedule("teams", "weekly", "UTC", since="14d")]
    w = Worker()
    first = w.tick(schedules, us("2024-07-18T10:00:00Z"))
    assert first == [
        "sched-agent_metrics-%s-2024-07-15" % schedules[0].ident,
        "sched-agent_metrics-%s-2024-07-16" % schedules[0].ident,
        "sched-agent_metrics-%s-2024-07-17" % schedules[0].ident,
        "sched-teams-%s-2024-W27" % schedules[1].ident,  # ended 2024-07-08, after since (14 days back)
        "sched-teams-%s-2024-W28" % schedules[1].ident,
    ]
    assert w.tick(schedules, us("2024-07-18T10:01:00Z")) == []  # a minute later: nothing new
    restarted = Worker()
    restarted.files = set(w.files)  # the same export folder after a restart
    assert restarted.tick(schedules, us("2024-07-18T11:00:00Z")) == []
    # Down from the 18th to the 21st 09:00 (local): the three days that ended meanwhile, once, in order.
    back = restarted.tick(schedules, us("2024-07-21T07:00:00Z"))
    assert back == ["sched-agent_metrics-%s-2024-07-%d" % (schedules[0].ident, d) for d in (18, 19, 20)]
    assert restarted.tick(schedules, us("2024-07-21T07:00:00Z")) == []
    assert len(w.requested + restarted.requested) == len(set(w.requested + restarted.requested))
    assert "scheduled/agent_metrics/agent_metrics_2024-07-20.csv" in restarted.files
    assert "scheduled/teams/teams_2024-W28.csv" in restarted.files


def test_request_ids_are_deterministic_valid_and_distinct_per_schedule():
    a = Schedule("conversations_resolved", "hourly", "America/St_Johns", since="2024-07-15T00:00:00Z")  # UTC-02:30
    b = Schedule("conversations_resolved", "hourly", "America/St_Johns", channels=("ch-1",), since="2024-07-15T00:00:00Z")
    now = us("2024-07-15T06:00:00Z")
    pa, pb = periods_ended(a, a.since_us(0), now), periods_ended(b, b.since_us(0), now)
    assert labels(pa) == labels(pb) and labels(pa)[0] == "2024-07-14T21-0230"
    for p in pa:
        rid = request_id(a, p)
        assert REQUEST_ID.match(rid) and rid == request_id(a, p) and rid != request_id(b, p)
        req = parse_request(json.dumps(rules.request_body(a, p)).encode())  # accepted by the coordinator
        assert req.request_id == rid and req.as_of == rules.rfc3339(p.end_us)
    assert a.ident != b.ident and a.ident == Schedule(**{**a.__dict__, "since": "7d"}).ident


def test_parse_schedules_and_its_errors(tmp_path):
    [s] = parse_schedules('[{"export_type":"agent_metrics","every":"daily","time_zone":"Europe/Amsterdam"}]')
    assert (s.export_type, s.every, s.time_zone, s.since, s.folder) == ("agent_metrics", "daily", "Europe/Amsterdam", "7d",
                                                                      "agent_metrics")
    assert parse_schedules("") == [] and parse_schedules('{"export_type":"teams"}')[0].every == "daily"
    for text, message in [
        ("{nope", "not valid JSON"),
        ('[{"export_type":"everything"}]', "schedule 0: export_type"),
        ('[{"export_type":"teams","every":"monthly"}]', "every must be one of"),
        ('[{"export_type":"teams","time_zone":"Mars/Base"}]', "unknown time zone"),
        ('[{"export_type":"teams","since":"last tuesday"}]', "since must be"),
        ('[{"export_type":"teams","colour":"red"}]', "unknown field"),
        ('[{"export_type":"teams","channels":"ch-1"}]', "channels must be a list"),
        ('[{"export_type":"teams"},{"export_type":"teams","time_zone":"UTC"}]', "give one a distinct \"name\""),
    ]:
        with pytest.raises(ScheduleError, match=message):
            parse_schedules(text)
    two = parse_schedules('[{"export_type":"teams"},{"export_type":"teams","time_zone":"Asia/Tokyo","name":"teams-tokyo"}]')
    assert [x.folder for x in two] == ["teams", "teams-tokyo"]
    path = tmp_path / "schedules.json"
    path.write_text('[{"export_type":"messages","every":"weekly"}]')
    loaded = rules.load_schedules('[{"export_type":"teams"}]', str(path))
    assert [(x.export_type, x.every) for x in loaded] == [("teams", "daily"), ("messages", "weekly")]
    with pytest.raises(ScheduleError, match="cannot read"):
        rules.load_schedules("", str(tmp_path / "missing.json"))


def test_since_forms():
    now = us("2024-07-18T10:00:00Z")
    assert Schedule("teams", "daily", since="48h").since_us(now) == now - 48 * 3600 * 10**6
    assert Schedule("teams", "daily", "Asia/Tokyo", since="2024-07-15").since_us(now) == us("2024-07-14T15:00:00Z")
    assert Schedule("teams", "daily", since="2024-07-15T06:30:00+02:00").since_us(now) == us("2024-07-15T04:30:00Z")
    assert periods_ended(Schedule("teams", "daily"), now, now - 1) == []


class FakeConsumer:
    def __init__(self, tps):
        self.tps = tps

    def assignment(self):
        return self.tps


class FakeProducer:
    def __init__(self):
        self.sent = []

    async def send_and_wait(self, topic, key, value, partition, timestamp, headers):
        self.sent.append((topic, key.decode(), json.loads(value)))


class FakeApp:
    def __init__(self, tps):
        self.consumer = FakeConsumer(tps)
        self.producer = FakeProducer()


class FakeResults:
    def __init__(self):
        self.listeners = []
        self.latest = {}

    def get(self, rid):
        return self.latest.get(rid)


def test_the_scheduler_runs_on_the_owner_of_partition_0_and_files_each_result(tmp_path):
    import asyncio

    from faust.types import TP

    from convoflow.contract.config import Settings
    from convoflow.streams.runtime import Runtime
    from convoflow.streams.schedule import Scheduler

    settings = Settings(topic_prefix="p-", export_dir=str(tmp_path))
    schedules = [Schedule("teams", "daily", "UTC", since="2024-07-15")]
    now = us("2024-07-17T08:00:00Z")

    async def scenario():
        follower = Scheduler(FakeApp({TP("p-export-requests", 1)}), Runtime(settings), FakeResults(), schedules)
        assert await follower.tick(now) == []  # not the owner of partition 0: does nothing
        app, results = FakeApp({TP("p-export-requests", 0)}), FakeResults()
        leader = Scheduler(app, Runtime(settings), results, schedules)
        sent = await leader.tick(now)
        assert [r.rsplit("-", 3)[-3:] for r in sent] == [["2024", "07", "15"], ["2024", "07", "16"]]
        assert [body["as_of"] for _, _, body in app.producer.sent] == ["2024-07-16T00:00:00Z", "2024-07-17T00:00:00Z"]
        assert await leader.tick(now) == []  # asked already: not again while the answer is pending
        for rid in sent:  # the coordinator's results arrive on export-results
            source = tmp_path / f"{rid}.csv"
            source.write_bytes(f"Team ID\r\n{rid}\r\n".encode())
            result = {"request_id": rid, "status": "completed", "rows": 1, "file": str(source)}
            results.latest[rid] = result
            for listener in results.listeners:
                listener(result)
        await asyncio.sleep(0.05)  # the copies run as tasks
        for rid, day in zip(sent, ("2024-07-15", "2024-07-16")):
            assert (tmp_path / f"scheduled/teams/teams_{day}.csv").read_bytes() == f"Team ID\r\n{rid}\r\n".encode()
        assert leader.counts == {"requested": 2, "written": 2, "failed": 0} and not leader.pending
        # A restarted scheduler finds the files: nothing to ask. A lost file comes back from the known result.
        again = Scheduler(app, Runtime(settings), results, schedules)
        assert await again.tick(now) == []
        (tmp_path / "scheduled/teams/teams_2024-07-15.csv").unlink()
        assert await again.tick(now) == [] and (tmp_path / "scheduled/teams/teams_2024-07-15.csv").is_file()
        assert len(app.producer.sent) == 2

    asyncio.run(scenario())
