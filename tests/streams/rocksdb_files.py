"""A plain RocksDB database of raw bytes on disk, filled, for tests of what reads stores."""
from rocksdict import Options, Rdict


def store(path, items: dict[bytes, bytes]) -> Rdict:
    options = Options(raw_mode=True)
    options.create_if_missing(True)
    db = Rdict(str(path), options=options)
    for k, v in items.items():
        db[k] = v
    return db
