"""Model deployments: the stack's `deployments`, the model versions they serve, and their
SeldonDeployments."""
