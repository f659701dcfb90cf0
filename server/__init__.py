"""Settings, the ASGI app factory, its lifespan, health routes and the CLI."""
