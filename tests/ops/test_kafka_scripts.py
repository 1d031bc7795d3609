"""scripts/kafka.sh: what the dev broker and the test cluster are formatted with."""
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_new_cluster_id_is_a_base64url_uuid_that_never_starts_with_a_dash():
    # One id in 64 would start with "-", which the format tool reads as an option: 400 ids let a
    # generator that does not skip them pass once in 500 runs.
    done = subprocess.run(["bash", "-c", "for _ in $(seq 400); do scripts/kafka.sh cluster-id; done"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    ids = done.stdout.split()
    assert len(ids) == 400 and len(set(ids)) == 400
    assert all(re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_-]{21}", i) for i in ids), [i for i in ids if i.startswith("-")]
