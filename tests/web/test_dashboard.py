"""The operators' pages (web/dashboard.py): which files they serve, and the checks before an answer.
The views themselves answer over HTTP in tests/integration and tests/ui."""
from convoflow.web.dashboard import _zone_error, static_file


def test_the_pages_and_their_scripts_are_served_with_their_type():
    for name, content_type in (("dashboard.html", "text/html; charset=utf-8"),
                               ("exports.html", "text/html; charset=utf-8")):
        found = static_file(name)
        assert found is not None and found[1] == content_type and found[0].lstrip().lower().startswith(b"<!doctype html")


def test_no_file_outside_the_static_folder_and_no_unknown_kind():
    for name in ("../dashboard.py", "..%2Fweb.py", "dashboard.HTML", "a.py", "missing.html", ".html", "x" * 41 + ".js"):
        assert static_file(name) is None, name


def test_an_unknown_zone_is_named_in_the_error():
    assert _zone_error("Europe/Amsterdam") is None and _zone_error("UTC") is None
    assert _zone_error("Mars/Olympus") == "unknown time zone 'Mars/Olympus'"
    assert _zone_error("../etc/passwd") is not None
