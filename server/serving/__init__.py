"""How the app is served: uvicorn's hardened transport, graceful shutdown, CORS."""
