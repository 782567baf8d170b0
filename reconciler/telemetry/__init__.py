"""What the reconciler tells people: redacted logs (text or JSON lines) and Prometheus metrics."""
