"""Shared fixtures: a real liteio server per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.server import LiteioServer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiteioServer]:
    with LiteioServer(tmp_path_factory.mktemp("server")) as running:
        yield running
