"""CSV lines formatted ahead (by shards) are the bytes the file writer would write."""
from zoneinfo import ZoneInfo

from exporters import csvfile

ROWS = [
    ["plain", "", "with,comma", 'with "quotes"', "multi\nline", "cr\rinside", " spaced ", "ünïcödé"],
    ["'=1+1", "x" * 300, "", "", "", "", "", ""],
]


def test_lines_are_what_the_writer_writes(tmp_path):
    line = csvfile.line_formatter()
    path = tmp_path / "a.csv"
    assert csvfile.write(str(path), ["h1", "h2"], ROWS) == 2
    lines_path = tmp_path / "b.csv"
    assert csvfile.write_lines(str(lines_path), ["h1", "h2"], [line(r) for r in ROWS]) == 2
    assert lines_path.read_bytes() == path.read_bytes() == csvfile.encode(["h1", "h2"], ROWS)


def test_timestamps_are_truncated_to_the_second_in_the_zone():
    utc, ny = ZoneInfo("UTC"), ZoneInfo("America/New_York")
    assert csvfile.timestamp(1_500_000, utc) == "1970-01-01T00:00:01+00:00"
    assert csvfile.timestamp(-1, utc) == "1969-12-31T23:59:59+00:00"  # floor, not towards zero
    # the hour that repeats when daylight saving time ends: each second names its own offset
    assert csvfile.timestamp(1_699_160_400_000_000, ny) == "2023-11-05T01:00:00-04:00"
    assert csvfile.timestamp(1_699_163_999_999_999, ny) == "2023-11-05T01:59:59-04:00"
    assert csvfile.timestamp(1_699_164_000_000_000, ny) == "2023-11-05T01:00:00-05:00"
    assert csvfile.timestamp(None, utc) == ""
