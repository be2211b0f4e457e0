"""Cluster access: the stack's Kubernetes provider, optionally on a new kind cluster."""
