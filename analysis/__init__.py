"""A/B decision from Prometheus metrics: evidence, statistics, verdict and its application."""

from model.abtest.command import register

__all__ = ["register"]
