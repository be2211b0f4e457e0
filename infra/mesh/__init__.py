"""Istio: the ingress gateway, its HTTPS Gateway, and the prediction path's limits and JWT."""
