"""Model lifecycle: validate data, train, evaluate, track in MLflow, register, gate and promote."""
