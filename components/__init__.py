"""The project's component resources: registry, image, cluster (with its network) and workloads."""
