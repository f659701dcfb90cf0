"""Real processes: the service under uvicorn, real clients (node, gql), kill and restart."""
