"""`outdial-graphql serve` with the OTEL_* variables, as operators set them: spans as JSON on
stdout (console), spans posted to an OTLP/HTTP collector on 127.0.0.1 (otlp), nothing at all
(and OpenTelemetry never imported) when OTEL_TRACES_EXPORTER is unset or `none`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.support import operations as ops
from tests.support.live_server import REPO_ROOT, live_service, stop

OUTDIAL = "0c8e4f57-2d9b-4a61-8e3f-5b7a9c1d2e30"
NAMED_CREATE = ops.CREATE.replace("mutation(", "mutation AddTarget(", 1)


def create_one(url: str) -> None:
    body = {"query": NAMED_CREATE, "variables": {"input": ops.new_input(OUTDIAL)}}
    answer = httpx.post(f"{url}/graphql", json=body).json()
    assert "errors" not in answer, answer


def json_objects(text: str) -> Iterator[dict[str, Any]]:
    """The JSON objects printed among the log lines (each starts a line with `{`)."""
    decoder = json.JSONDecoder()
    position = 0
    while (start := text.find("\n{", position)) != -1:
        try:
            found, position = decoder.raw_decode(text, start + 1)
        except json.JSONDecodeError:
            position = start + 1
            continue
        if isinstance(found, dict):
            yield found


def test_the_console_exporter_prints_each_operation_and_its_store_calls_as_json(
    tmp_path: Path,
) -> None:
    env = {"OTEL_TRACES_EXPORTER": "console", "DATA_DIR": str(tmp_path / "data")}
    with live_service(env) as service:
        create_one(service.url)
        stop(service)  # the last spans are written as it stops
        printed = list(json_objects(service.log()))

    (operation,) = [span for span in printed if span["kind"] == "SpanKind.SERVER"]
    assert operation["name"] == "mutation"
    assert operation["attributes"]["graphql.operation.name"] == "AddTarget"
    assert operation["attributes"]["outdial.graphql.outcome"] == "ok"
    assert operation["resource"]["attributes"]["service.name"] == "outdial-graphql"
    trace = operation["context"]["trace_id"]
    store_calls = [span for span in printed if span["context"]["trace_id"] == trace]
    assert "store.create" in [span["name"] for span in store_calls]
    assert all(
        span["attributes"]["db.system"] == "sqlite" for span in store_calls if span is not operation
    )


class _Collector(BaseHTTPRequestHandler):
    received: list[ExportTraceServiceRequest]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        self.received.append(request)
        answer = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def otlp_collector() -> Iterator[tuple[str, list[ExportTraceServiceRequest]]]:
    """An OTLP/HTTP receiver on 127.0.0.1: its endpoint and what it was sent."""
    received: list[ExportTraceServiceRequest] = []
    handler = type("Collector", (_Collector,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_the_otlp_exporter_sends_the_spans_to_the_collector_the_endpoint_names(
    tmp_path: Path,
) -> None:
    with otlp_collector() as (endpoint, received):
        env = {
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
            "OTEL_SERVICE_NAME": "dialer-api",
            "DATA_DIR": str(tmp_path / "data"),
        }
        with live_service(env) as service:
            create_one(service.url)
            stop(service)
    spans = [
        (resource_spans.resource, span)
        for request in received
        for resource_spans in request.resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
    ]
    names = {span.name for _, span in spans}
    assert {"mutation", "store.create"} <= names
    services = {
        attribute.value.string_value
        for resource, _ in spans
        for attribute in resource.attributes
        if attribute.key == "service.name"
    }
    assert services == {"dialer-api"}


@pytest.mark.parametrize(
    "otel",
    [
        {},
        {"OTEL_TRACES_EXPORTER": "none"},
        {"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "true"},
    ],
    ids=["unset", "none", "sdk-disabled"],
)
def test_without_an_exporter_serving_never_imports_opentelemetry(
    tmp_path: Path, otel: dict[str, str]
) -> None:
    """So `make run`, which installs no extra, serves untraced."""
    program = (
        "import sys\n"
        "from server.app import create_app\n"
        "from server.settings import Settings\n"
        "create_app(Settings())\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'opentelemetry'}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env |= {"PYTHONPATH": str(REPO_ROOT)} | otel
    done = subprocess.run(
        [sys.executable, "-c", program],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "[]"


def test_an_exporter_that_is_not_installed_stops_serve_with_one_line(tmp_path: Path) -> None:
    env = dict(os.environ) | {
        "OTEL_TRACES_EXPORTER": "zipkin",
        "DATA_DIR": str(tmp_path / "data"),
        "PORT": "0",
        "PYTHONPATH": str(REPO_ROOT),
    }
    done = subprocess.run(
        [sys.executable, "-m", "cli", "serve"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "OTEL_TRACES_EXPORTER: no trace exporter 'zipkin'" in done.stderr
