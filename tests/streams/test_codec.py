"""Table values as JSON bytes: non-string keys are allowed (written as strings), None stays None."""
from convoflow.streams.codec import dumps, loads


def test_values_round_trip_with_non_string_keys_written_as_strings():
    assert dumps({1: [True, None]}) == b'{"1":[true,null]}'
    assert loads(dumps({"a": {2: 3}})) == {"a": {"2": 3}}
    assert loads(None) is None
