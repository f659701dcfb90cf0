"""Fixtures for browser tests: the real service, headless Debian Chromium, an offline guard."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Request, Route, WebSocketRoute, sync_playwright

from tests.support.live_server import live_service

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOST = "127.0.0.1"


@pytest.fixture(scope="module")
def graphiql_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL (no trailing slash) of `outdial-graphql serve` on an empty embedded database."""
    data_dir = tmp_path_factory.mktemp("graphiql-data")
    with live_service({"DATA_DIR": str(data_dir)}) as service:
        yield service.url


# Module scope: the sync Playwright loop must not outlive into the asyncio tests elsewhere.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


@dataclass
class OfflineGuard:
    """Every request the page tried to send outside 127.0.0.1 (all of them were aborted)."""

    blocked: list[str] = field(default_factory=list)


def _is_outside(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme not in ("data", "blob", "about") and parts.hostname != LOCAL_HOST


@pytest.fixture
def offline_guard() -> OfflineGuard:
    return OfflineGuard()


@pytest.fixture
def page(browser: Browser, offline_guard: OfflineGuard) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})

    def abort_http(route: Route, request: Request) -> None:
        offline_guard.blocked.append(request.url)
        route.abort()

    def abort_websocket(ws: WebSocketRoute) -> None:
        offline_guard.blocked.append(ws.url)
        ws.close()

    context.route(_is_outside, abort_http)
    context.route_web_socket(_is_outside, abort_websocket)
    page = context.new_page()
    yield page
    context.close()
