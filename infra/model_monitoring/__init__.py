"""Monitoring of Seldon deployments as code: PodMonitor, PrometheusRule and Grafana dashboards."""
