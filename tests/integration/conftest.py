import pytest

from tests.integration.harness import Deployment, broker_reachable, problems_in_log


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="module")
def broker():
    if not broker_reachable():
        pytest.fail("no Kafka broker: run `make kafka-up` (or `make test`, which starts one)")


@pytest.fixture(scope="module")
def deployment(broker, tmp_path_factory):
    d = Deployment(tmp_path_factory.mktemp("deployment"))
    yield d
    d.stop()
    problems = problems_in_log(d.logs())
    assert not problems, "worker logged errors:\n" + "\n".join(problems[:20])
