"""Fixtures: every API test runs on each storage tier (tests.support.backends)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from server.app import create_app
from server.settings import Settings
from tests.support.api import GraphQLClient
from tests.support.backends import TIERS, Backend, RawDocuments, open_backend


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that uses `backend` runs on each tier, or on mongomock alone when marked
    `mock_only` (what it tests acts before storage is touched)."""
    if "backend" in metafunc.fixturenames:
        only_mock = metafunc.definition.get_closest_marker("mock_only") is not None
        tiers = [tier for tier in TIERS if tier.values == ("mock",)] if only_mock else TIERS
        metafunc.parametrize("backend", tiers, indirect=True)


@pytest.fixture
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    async with open_backend(request.param, tmp_path / "data") as opened:
        yield opened


@pytest.fixture
def docs(backend: Backend) -> RawDocuments:
    return backend.docs


@pytest.fixture
def settings() -> Settings:
    return Settings()


@pytest.fixture
async def app(settings: Settings, backend: Backend) -> AsyncIterator[Starlette]:
    application = create_app(settings, storage=backend.opener())
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
def gql(client: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(client)
