"""What operators see: Prometheus metrics, the request log, log set-up, health checks."""
