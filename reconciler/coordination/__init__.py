"""Replicas of the service that share the stacks through Kubernetes Leases (coordination.k8s.io/v1)."""
