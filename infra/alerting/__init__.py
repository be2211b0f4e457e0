"""Who the platform's alerts reach: Alertmanager receivers, routing by severity, runbook links."""
