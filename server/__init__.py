"""The running service: `create_app(settings)` (server.app), its settings and runtime.

Subpackages by concern: `http` (endpoint, negotiation, persisted operations, websockets),
`guards` (auth, budgets, document limits), `serving` (uvicorn transport, shutdown, CORS),
`observability` (metrics, request log, logs, health).
"""
