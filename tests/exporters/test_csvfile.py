"""CSV lines formatted ahead (by shards) are the bytes the file writer would write."""
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from convoflow.exporters import csvfile

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


def test_lines_written_in_several_writes_are_the_same_file(tmp_path, monkeypatch):
    monkeypatch.setattr(csvfile, "WRITE_LINES", 3)
    rows = [[f"c-{i}", ROWS[i % 2][i % 8]] for i in range(10)]
    line = csvfile.line_formatter()
    assert csvfile.write_lines(str(tmp_path / "l.csv"), ["h1", "h2"], (line(r) for r in rows)) == 10
    assert (tmp_path / "l.csv").read_bytes() == csvfile.encode(["h1", "h2"], rows)


CELLS = st.one_of(st.text(alphabet=st.sampled_from(list('ab ,"\r\n\0\'=ü')), max_size=6),
                  st.sampled_from(["", "x", "2024-07-03T10:20:33+00:00"]))


@settings(max_examples=500, deadline=None)
@given(st.lists(CELLS, max_size=6))
def test_a_line_is_the_csv_writers_line_for_any_cells(row):
    """Rows joined without the writer (no cell needs quotes) and rows the writer writes alike."""
    assert csvfile.line_formatter()(row) == writers_line(row)


def writers_line(row) -> str:
    return csvfile.encode([], [row]).decode("utf-8")[len("\r\n"):]  # after the empty header's line


def test_a_line_of_cells_that_are_not_all_text_or_too_few_is_the_writers():
    for row in (["a", 1, None], [""], [], ["a", "b"]):
        assert csvfile.line_formatter()(row) == writers_line(row)


def test_timestamps_are_truncated_to_the_second_in_the_zone():
    utc, ny = ZoneInfo("UTC"), ZoneInfo("America/New_York")
    assert csvfile.timestamp(1_500_000, utc) == "1970-01-01T00:00:01+00:00"
    assert csvfile.timestamp(-1, utc) == "1969-12-31T23:59:59+00:00"  # floor, not towards zero
    # the hour that repeats when daylight saving time ends: each second names its own offset
    assert csvfile.timestamp(1_699_160_400_000_000, ny) == "2023-11-05T01:00:00-04:00"
    assert csvfile.timestamp(1_699_163_999_999_999, ny) == "2023-11-05T01:59:59-04:00"
    assert csvfile.timestamp(1_699_164_000_000_000, ny) == "2023-11-05T01:00:00-05:00"
    assert csvfile.timestamp(None, utc) == ""


def test_the_report_timestamp_formatter_writes_what_timestamp_writes():
    """Its per-minute shortcut must not cross an offset change: every second around transitions
    (daylight saving, a 30-minute shift, local mean time with seconds) and random instants."""
    import random
    from datetime import datetime, timezone

    around = [("Europe/Brussels", "2024-03-31T01:00:00"), ("Europe/Brussels", "2024-10-27T01:00:00"),
              ("America/New_York", "2023-11-05T06:00:00"), ("Australia/Lord_Howe", "2024-04-06T15:00:00"),
              ("Asia/Kathmandu", "1986-01-01T00:00:00"), ("Africa/Monrovia", "1972-01-07T00:00:00")]
    for zone, when in around:
        tz = ZoneInfo(zone)
        ts = csvfile.timestamp_formatter(tz)
        base = int(datetime.fromisoformat(when).replace(tzinfo=timezone.utc).timestamp())
        for sec in range(base - 3700, base + 3700):
            for us in (sec * 1_000_000, sec * 1_000_000 + 999_999):
                assert ts(us) == csvfile.timestamp(us, tz), (zone, us)
    rnd = random.Random(7)
    for zone in ("UTC", "Europe/Amsterdam", "America/Sao_Paulo", "Pacific/Chatham"):
        tz = ZoneInfo(zone)
        ts = csvfile.timestamp_formatter(tz)
        for _ in range(5_000):
            us = rnd.randrange(-2_000_000_000, 3_000_000_000) * 1_000_000 + rnd.randrange(1_000_000)
            assert ts(us) == csvfile.timestamp(us, tz), (zone, us)
    assert csvfile.timestamp_formatter(ZoneInfo("UTC"))(None) == ""


def test_the_report_timestamp_formatter_keeps_at_most_its_bound_of_hours(monkeypatch):
    monkeypatch.setattr(csvfile, "HOURS_CACHED", 10)
    utc = ZoneInfo("UTC")
    ts = csvfile.timestamp_formatter(utc)
    for hour in range(50):
        us = hour * 3_600_000_000 + 61_000_000
        assert ts(us) == csvfile.timestamp(us, utc)
    caches = [c.cell_contents for c in ts.__closure__ if isinstance(c.cell_contents, dict)]
    assert len(caches) == 2 and all(len(cache) == 10 for cache in caches)


def test_a_row_s_sort_key_orders_it_as_the_whole_row_even_when_text_cells_collide():
    """``text`` writes the IDs ``=c1`` and ``'=c1`` alike: those rows' identity cells tie, so the cells
    after them order the rows, and the key is then the whole row."""
    import itertools

    from convoflow.exporters.csvfile import sort_key, text

    rows = [[text(mid), "2024-07-01T00:00:00+00:00", text(cid), f"raw {mid} {cid}"]
            for mid, cid in itertools.product(["m1", "=m1", "'=m1", "m2"], ["c1", "=c1", "'=c1"])]
    rows.sort(reverse=True)  # a stable sort on a key that ties would leave tied rows in this order
    assert sorted(rows, key=lambda r: sort_key(r, 3)) == sorted(rows)
    assert sorted(rows, key=lambda r: r[:3]) != sorted(rows), "the identity cells alone do tie"
    assert sort_key(["m1", "t", "c1", "x"], 3) == ["m1", "t", "c1"]
    assert sort_key(["'=m1", "t", "c1", "x"], 3) == ["'=m1", "t", "c1", "x"]
    assert sort_key(["m1", "t", "'=c1", "x"], 3) == ["m1", "t", "'=c1", "x"]
