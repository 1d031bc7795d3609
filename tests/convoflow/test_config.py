"""Settings that are checked before a worker starts."""
import pytest

from convoflow.config import ConfigError, Settings


def test_rocksdb_memory_defaults_and_environment(monkeypatch):
    assert Settings().rocksdb_memory() == (256 << 20, 128 << 20)
    monkeypatch.setenv("CONVOFLOW_ROCKSDB_CACHE_MB", "512")
    monkeypatch.setenv("CONVOFLOW_ROCKSDB_WRITE_BUFFERS_MB", "64")
    assert Settings().rocksdb_memory() == (512 << 20, 64 << 20)


@pytest.mark.parametrize("cache, write_buffers", [(256, 0), (256, 256), (128, 200)])
def test_write_buffers_must_fit_in_the_cache_that_holds_them(cache, write_buffers):
    with pytest.raises(ConfigError, match="CONVOFLOW_ROCKSDB_WRITE_BUFFERS_MB"):
        Settings(rocksdb_cache_mb=cache, rocksdb_write_buffers_mb=write_buffers).rocksdb_memory()


def test_malloc_trim_interval_defaults_environment_and_bounds(monkeypatch):
    assert Settings().malloc_trim_every() == 0  # never
    monkeypatch.setenv("CONVOFLOW_MALLOC_TRIM_SECONDS", "30")
    assert Settings().malloc_trim_every() == 30
    for bad in (-1, float("nan")):
        with pytest.raises(ConfigError, match="CONVOFLOW_MALLOC_TRIM_SECONDS"):
            Settings(malloc_trim_seconds=bad).malloc_trim_every()


def test_export_processes_default_to_the_cores_and_are_checked(monkeypatch):
    import os

    assert Settings().export_process_limits() == (os.cpu_count(), 20_000)
    monkeypatch.setenv("CONVOFLOW_EXPORT_PROCESSES", "0")  # never: every scan in the worker
    monkeypatch.setenv("CONVOFLOW_EXPORT_PROCESS_MIN_KEYS", "500")
    assert Settings().export_process_limits() == (0, 500)
    with pytest.raises(ConfigError, match="CONVOFLOW_EXPORT_PROCESSES"):
        Settings(export_processes=-1).export_process_limits()
    with pytest.raises(ConfigError, match="CONVOFLOW_EXPORT_PROCESS_MIN_KEYS"):
        Settings(export_process_min_keys=-5).export_process_limits()
