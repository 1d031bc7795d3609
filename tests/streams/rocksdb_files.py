"""A plain RocksDB database of raw bytes on disk, filled, for tests of what reads stores."""
from rocksdict import Options, Rdict

from convoflow.streams.state.partition import HEADS, build_heads


def store(path, items: dict[bytes, bytes], head=None) -> Rdict:
    """With ``head``, the database also has the heads of its values, as a table's store with heads
    keeps them (they are built the way an older database gets them when it is opened)."""
    options = Options(raw_mode=True)
    options.create_if_missing(True)
    if head is None:
        db = Rdict(str(path), options=options)
    else:
        options.create_missing_column_families(True)
        options.set_atomic_flush(True)
        db = Rdict(str(path), options=options, column_families={HEADS: Options(raw_mode=True)})
    for k, v in items.items():
        db[k] = v
    if head is not None:
        build_heads(db, head)
    return db
