"""kube-prometheus-stack: Prometheus, Alertmanager and Grafana for the platform's monitors."""
