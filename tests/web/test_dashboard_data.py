"""The live dashboard's numbers (web/dashboard_data.py): one computation per zone and day at a time,
shared by the polls that wait for it, and kept for the cache time; read from the reports."""
import asyncio

from convoflow.contract.config import Settings
from convoflow.exporters.dashboard_figures import FIRST_RESPONSES
from convoflow.exporters.headers import HEADERS
from convoflow.web.dashboard_data import Dashboard
from convoflow.streams.runtime import Runtime


class Coordinator:
    """Answers ``collect`` with no rows after ``delay`` seconds, counting the reports asked for."""

    def __init__(self, delay: float = 0.0, fail: bool = False):
        self.delay, self.fail = delay, fail
        self.asked: list[tuple[str, str, str]] = []

    async def collect(self, report, req, as_of_us):
        self.asked.append((report.export_type, req.export_type, req.date_from))
        await asyncio.sleep(self.delay)
        if self.fail:
            raise RuntimeError("shard 2: reassigned")
        if report is FIRST_RESPONSES:
            return [("t-1", {"team_id": "t-1", "count": 2, "sum_us": 90_000_000, "classes": [1, 1, 0, 0, 0, 0]})]
        return []


def dashboard(coordinator, cache_seconds: float = 60.0) -> Dashboard:
    return Dashboard(Runtime(Settings(dashboard_cache_seconds=cache_seconds)), coordinator)


def test_the_numbers_of_a_day_come_from_the_reports_of_that_day():
    coordinator = Coordinator()
    data = asyncio.run(dashboard(coordinator).data("Europe/Amsterdam", "2024-07-15"))
    assert sorted(coordinator.asked) == sorted([
        ("conversations_open", "conversations_open", "2024-07-15"), ("agent_metrics", "agent_metrics", "2024-07-15"),
        ("teams", "teams", "2024-07-15"), ("agent_responses", "agent_responses", "2024-07-15"),
        ("presence_now", "agent_presence", "2024-07-15"), ("dashboard_first_responses", "teams", "2024-07-15")])
    assert data["date"] == "2024-07-15" and data["time_zone"] == "Europe/Amsterdam"
    assert data["queue"]["open"] == 0 and data["responses_per_hour"] == [0] * 24
    assert data["first_response"]["count"] == 2 and data["first_response"]["teams"]["t-1"]["average_seconds"] == "45.00"
    assert data["columns"] == {"agents": HEADERS["agent_metrics"], "teams": HEADERS["teams"]}


def test_polls_that_arrive_together_share_one_computation_and_later_ones_the_cache():
    coordinator = Coordinator(delay=0.05)
    board = dashboard(coordinator)

    async def polls():
        first = await asyncio.gather(*(board.data("UTC", "2024-07-15") for _ in range(5)))
        again = await board.data("UTC", "2024-07-15")
        other_day = await board.data("UTC", "2024-07-16")
        return first, again, other_day

    first, again, other_day = asyncio.run(polls())
    assert all(f is first[0] for f in first) and again is first[0]
    assert other_day["date"] == "2024-07-16"
    assert len(coordinator.asked) == 2 * 6  # two days, six reports each


def test_an_old_answer_is_computed_again():
    coordinator = Coordinator()
    board = dashboard(coordinator, cache_seconds=0.0)

    async def polls():
        await board.data("UTC", "2024-07-15")
        await board.data("UTC", "2024-07-15")

    asyncio.run(polls())
    assert len(coordinator.asked) == 2 * 6


def test_a_failed_computation_is_not_kept():
    coordinator = Coordinator(fail=True)
    board = dashboard(coordinator)

    async def poll():
        try:
            await board.data("UTC", "2024-07-15")
        except RuntimeError as exc:
            return str(exc)

    assert asyncio.run(poll()) == "shard 2: reassigned"
    assert board.cache == {} and board.inflight == {}


def test_a_slow_computation_goes_on_after_the_poll_gives_up():
    coordinator = Coordinator(delay=0.2)
    board = dashboard(coordinator)

    async def polls():
        try:
            await board.data("UTC", "2024-07-15", timeout=0.01)
        except asyncio.TimeoutError:
            pass
        await asyncio.sleep(0.3)
        return await board.data("UTC", "2024-07-15", timeout=0.01)

    assert asyncio.run(polls())["date"] == "2024-07-15"
    assert len(coordinator.asked) == 6
