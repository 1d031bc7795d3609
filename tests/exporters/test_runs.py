"""Sorted run files: a merge split by key range gives the file the whole merge gives."""
import io

from hypothesis import given, settings, strategies as st

from convoflow.exporters.runs import append_run, merge_lines, merge_range, offset_of, read_run, split_keys

# sort keys as the reports make them: lists of cells; some tie on their first cell
KEYS = st.lists(st.sampled_from(["a", "b", "'=c", "d\nx", "é", "f,g", ""]), min_size=1, max_size=3)
RUNS = st.lists(st.lists(KEYS, max_size=40).map(sorted), min_size=1, max_size=6)


def write_runs(tmp_path, runs) -> list[str]:
    """Each run as a file of ``[key, line]`` items, the line naming its run and place."""
    paths = []
    for r, keys in enumerate(runs):
        path = tmp_path / f"run-{r}.jsonl"
        with open(path, "wb") as f:
            append_run(f, [[key, f"{'|'.join(key)} r{r} i{i}\r\n"] for i, key in enumerate(keys)])
        paths.append(str(path))
    return paths


def whole_merge(paths) -> list[str]:
    files = [open(p, "rb") for p in paths]
    try:
        return list(merge_lines(read_run(f) for f in files))
    finally:
        for f in files:
            f.close()


@settings(max_examples=150, deadline=None)
@given(runs=RUNS, ways=st.integers(1, 4), samples=st.integers(1, 8), data=st.data())
def test_ranges_merged_apart_and_put_end_to_end_are_the_whole_merge(tmp_path_factory, runs, ways, samples, data):
    paths = write_runs(tmp_path_factory.mktemp("runs"), runs)
    keys = split_keys(paths, ways, samples)
    assert len(keys) == (ways - 1 if any(runs) and ways > 1 else 0) and keys == sorted(keys)
    # any bounds in order split the merge exactly, not only the sampled ones
    extra = sorted(data.draw(st.lists(KEYS, max_size=2)))
    bounds = [None, *sorted(keys + extra), None]
    out = io.StringIO()
    counts = [merge_range(paths, low, high, out) for low, high in zip(bounds, bounds[1:])]
    expected = whole_merge(paths)
    assert out.getvalue() == "".join(expected)
    assert sum(counts) == len(expected)


def test_offset_of_finds_the_first_line_at_or_after_a_key(tmp_path):
    [path] = write_runs(tmp_path, [[["a"], ["b"], ["b"], ["d"]]])
    starts = [0]
    with open(path, "rb") as f:
        for line in f:
            starts.append(starts[-1] + len(line))
        assert [offset_of(f, [k]) for k in ["", "a", "b", "c", "d", "e"]] == [0, 0, starts[1], starts[3], starts[3],
                                                                              starts[4]]


def test_the_split_keys_share_out_the_bytes(tmp_path):
    big = [[f"k{i:05d}"] for i in range(3000)]
    paths = write_runs(tmp_path, [big[0::3], big[1::3], big[2::3], [["k99999"]]])
    low, = split_keys(paths, 2)
    out1, out2 = io.StringIO(), io.StringIO()
    n1, n2 = merge_range(paths, None, low, out1), merge_range(paths, low, None, out2)
    assert n1 + n2 == 3001 and abs(n1 - n2) < 300


def test_no_runs_or_one_way_need_no_split(tmp_path):
    assert split_keys([], 2) == []
    paths = write_runs(tmp_path, [[["a"], ["b"]]])
    assert split_keys(paths, 1) == []
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    assert split_keys([str(empty)], 3) == []
