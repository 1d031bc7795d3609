"""The HTTP API is read-only, rejects path tricks, and can require a bearer token."""
import urllib.request

import pytest

from tests.integration.harness import Deployment, problems_in_log


@pytest.fixture(scope="module")
def guarded(broker, tmp_path_factory):
    d = Deployment(tmp_path_factory.mktemp("guarded"), env={"CONVOFLOW_API_TOKEN": "s3cret"})
    w = d.start_worker()
    yield d, w
    d.stop()
    assert not problems_in_log(d.logs())


def request(w, path, method="GET", token=None):
    req = urllib.request.Request(f"http://127.0.0.1:{w.port}{path}", method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_token_required_when_configured(guarded):
    d, w = guarded
    assert request(w, "/health") == 401
    assert request(w, "/health", token="wrong") == 401
    assert request(w, "/health", token="s3cret") == 200


def test_read_only_and_no_path_tricks(guarded):
    d, w = guarded
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        assert request(w, "/exports/x.csv", method=method, token="s3cret") == 405
    for path in ("/exports/..%2F..%2Fetc%2Fpasswd", "/exports/%2e%2e/x.csv", "/exports/..%2Fworker-0.log", "/exports/a.txt"):
        assert request(w, path, token="s3cret") in (400, 404), path
