"""GraphQL over HTTP and websockets: the endpoint, negotiation, persisted and trusted operations."""
