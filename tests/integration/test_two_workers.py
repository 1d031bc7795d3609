"""Two workers share the partitions: every report still gathers all of them."""
import pytest

from convoflow.tools import simulate
from convoflow.exporters.reports import REPORTS
from tests.integration.harness import cell_diff, workers_running
from tests.reference import model

FIRST, LAST, AS_OF = "2024-07-15", "2024-07-17", "2024-07-18T06:00:00Z"


@pytest.fixture(scope="module")
def two_workers(broker, tmp_path_factory):
    with workers_running(tmp_path_factory.mktemp("two-workers"), workers=2) as d:
        yield d


@pytest.fixture(scope="module")
def events(two_workers):
    events = simulate.generate(seed=23, agents=10, teams=3, conversations=250, days=3)
    two_workers.publish(simulate.disorder(events, seed=3, duplicate_rate=0.1, window=300))
    return events


@pytest.mark.parametrize("export_type", sorted(REPORTS))
def test_reports_across_two_workers(two_workers, events, export_type):
    result, body = two_workers.export(export_type, "Europe/Amsterdam", FIRST, LAST, as_of=AS_OF)
    assert result["status"] == "completed", result
    expected = model.report(events, export_type, "Europe/Amsterdam", FIRST, LAST, as_of=AS_OF)
    assert body == expected, cell_diff(expected, body)


def test_both_workers_own_partitions(two_workers, events):
    """Both logs show work: the test would prove nothing if one worker had everything."""
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        counts = [w.get("/health")[1] for w in two_workers.workers]
        if all(b'"assigned"' in c and b'"assigned":[]' not in c for c in counts):
            break
        time.sleep(0.5)
    assert all(b'"assigned":[]' not in c for c in counts), counts
