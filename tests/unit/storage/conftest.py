"""Fixtures of the storage suites: every backend, opened fresh in a temporary directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from burro.storage import Storage, open_storage

#: The backends that keep jobs; every contract test runs against each of them.
BACKENDS = ["memory", "lmdb"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The name of the backend under test."""
    return str(request.param)


@pytest.fixture
def storage(backend: str, tmp_path: Path) -> Iterator[Storage]:
    """A fresh, empty store of the backend under test, closed afterwards."""
    store = open_storage(backend, tmp_path / "store", durability="process")  # type: ignore[arg-type]
    yield store
    store.close()
