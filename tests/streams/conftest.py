import pytest

from .worker_app import worker_app


@pytest.fixture
def app(tmp_path):
    yield from worker_app(tmp_path)
