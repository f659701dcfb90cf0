"""GraphiQL, served by the real service, works in a browser cut off from all but 127.0.0.1."""

import json
import re
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, WebSocket, expect
from prometheus_client.parser import text_string_to_metric_families

from tests.browser.conftest import OfflineGuard
from tests.support import operations as ops

pytestmark = pytest.mark.browser

UI_TIMEOUT_MS = 15_000
SCREENSHOT = Path("/tmp/graphiql.png")
OPERATOR_HEADERS = {"X-Operator": "alice"}
CREATE_MANY = """mutation($inputs: [CreateOutdialtargetInput!]!) {
  createOutdialtargets(inputs: $inputs) { id } }"""


@pytest.fixture
def page_errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def open_graphiql(page: Page, base_url: str, guard: OfflineGuard) -> None:
    page.goto(f"{base_url}/graphql", wait_until="load")
    assert guard.blocked == [], "the page needs something outside 127.0.0.1"
    expect(page.locator(".graphiql-query-editor .CodeMirror")).to_be_visible(timeout=UI_TIMEOUT_MS)


def set_headers(page: Page, headers: dict[str, str]) -> None:
    page.get_by_role("button", name="Headers").click()
    page.eval_on_selector(
        ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror",
        "(editor, headers) => editor.CodeMirror.setValue(headers)",
        json.dumps(headers),
    )


def run_query(page: Page, query: str) -> None:
    page.eval_on_selector(
        ".graphiql-query-editor .CodeMirror",
        "(editor, query) => editor.CodeMirror.setValue(query)",
        query,
    )
    page.locator(".graphiql-execute-button").click()


def api(base_url: str, query: str, **variables: Any) -> dict[str, Any]:
    """The same service over plain HTTP, the way a dialer would call it."""
    response = httpx.post(f"{base_url}/graphql", json={"query": query, "variables": variables})
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body["data"]  # type: ignore[no-any-return]


def create_targets(base_url: str, outdial_id: str, count: int) -> list[str]:
    inputs = [ops.new_input(outdial_id) for _ in range(count)]
    created = api(base_url, CREATE_MANY, inputs=inputs)["createOutdialtargets"]
    return [target["id"] for target in created]


def active_subscriptions(base_url: str) -> float:
    text = httpx.get(f"{base_url}/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "outdial_subscriptions_active":
                return sample.value
    raise AssertionError("no subscription gauge in /metrics")


def wait_for_subscriptions(page: Page, base_url: str, expected: float) -> None:
    deadline = time.monotonic() + UI_TIMEOUT_MS / 1000
    while active_subscriptions(base_url) != expected:
        assert time.monotonic() < deadline, f"the server never held {expected} subscription(s)"
        # Not time.sleep: Playwright must keep serving the page's routes (the offline guard).
        page.wait_for_timeout(50)


def test_query_runs_with_everything_served_locally(
    page: Page, graphiql_server_url: str, offline_guard: OfflineGuard, page_errors: list[str]
) -> None:
    outdial_id = str(uuid.uuid4())
    create_targets(graphiql_server_url, outdial_id, 3)
    open_graphiql(page, graphiql_server_url, offline_guard)
    expect(page.locator(".graphiql-query-editor")).to_contain_text("GraphiQL for operators")

    set_headers(page, OPERATOR_HEADERS)
    with page.expect_request(lambda request: request.method == "POST") as posted:
        run_query(
            page,
            f'query Counts {{ outdialtargetCounts(outdialId: "{outdial_id}") {{ idle total }} }}',
        )

    response = page.locator(".graphiql-response")
    expect(response).to_contain_text('"idle": 3', timeout=UI_TIMEOUT_MS)
    expect(response).to_contain_text('"total": 3')
    page.screenshot(path=str(SCREENSHOT))
    assert posted.value.url == f"{graphiql_server_url}/graphql"
    assert posted.value.headers["x-operator"] == "alice"
    assert offline_guard.blocked == []
    assert page_errors == []


def test_subscription_sees_a_change_made_through_the_http_api(
    page: Page, graphiql_server_url: str, offline_guard: OfflineGuard, page_errors: list[str]
) -> None:
    outdial_id = str(uuid.uuid4())
    (target_id,) = create_targets(graphiql_server_url, outdial_id, 1)
    already = active_subscriptions(graphiql_server_url)
    sent: list[dict[str, Any]] = []
    received: list[dict[str, Any]] = []
    sockets: list[WebSocket] = []

    def watch(ws: WebSocket) -> None:
        sockets.append(ws)
        ws.on("framesent", lambda payload: sent.append(json.loads(payload)))
        ws.on("framereceived", lambda payload: received.append(json.loads(payload)))

    page.on("websocket", watch)
    open_graphiql(page, graphiql_server_url, offline_guard)

    set_headers(page, OPERATOR_HEADERS)
    run_query(
        page,
        f'subscription Watch {{ outdialtargetStatusChanged(outdialId: "{outdial_id}") '
        "{ previousStatus status target { id tryCount0 } } }",
    )
    wait_for_subscriptions(page, graphiql_server_url, already + 1)
    api(graphiql_server_url, ops.MARK, id=target_id, slot=0)

    response = page.locator(".graphiql-response")
    expect(response).to_contain_text(target_id, timeout=UI_TIMEOUT_MS)
    expect(response).to_contain_text('"previousStatus": "IDLE"')
    expect(response).to_contain_text('"status": "PROGRESSING"')
    page.locator(".graphiql-execute-button").click()  # stops the subscription
    expect(page.locator(".graphiql-execute-button")).to_have_attribute(
        "aria-label", re.compile(r"^Execute"), timeout=UI_TIMEOUT_MS
    )
    wait_for_subscriptions(page, graphiql_server_url, already)

    assert [ws.url for ws in sockets] == [f"{graphiql_server_url.replace('http', 'ws')}/graphql"]
    assert sent[0] == {"type": "connection_init", "payload": OPERATOR_HEADERS}
    assert sent[1]["type"] == "subscribe"
    events = [m["payload"]["data"] for m in received if m["type"] == "next"]
    assert events == [
        {
            "outdialtargetStatusChanged": {
                "previousStatus": "IDLE",
                "status": "PROGRESSING",
                "target": {"id": target_id, "tryCount0": 1},
            }
        }
    ]
    assert sent[-1] == {"id": sent[1]["id"], "type": "complete"}
    assert offline_guard.blocked == []
    assert page_errors == []
