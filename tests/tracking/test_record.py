import json
import math

from genq.tracking import find_records, read_record, write_json_atomic


def test_atomic_write_round_trip_and_no_leftovers(tmp_path):
    path = write_json_atomic(tmp_path / "a" / "result.json", {"x": 1.5, "bad": math.inf, "l": [math.nan]})
    assert read_record(path) == {"x": 1.5, "bad": None, "l": [None]}
    assert [p.name for p in path.parent.iterdir()] == ["result.json"]
    json.loads(path.read_text())                          # strict JSON, no Infinity/NaN
    assert find_records(tmp_path) == [path]
