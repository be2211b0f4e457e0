"""Monitoring of Seldon deployments as code: PodMonitor, PrometheusRule and Grafana dashboards."""

from infra.model_monitoring.component import ModelMonitoring, MonitoringDashboards
from infra.model_monitoring.config import MonitoringConfig, PredictorTarget

__all__ = ["ModelMonitoring", "MonitoringConfig", "MonitoringDashboards", "PredictorTarget"]
