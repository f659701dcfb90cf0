"""HTTP and websockets: negotiation, persisted operations, guards, metrics, transport."""
