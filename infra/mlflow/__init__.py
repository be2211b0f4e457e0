"""MLflow tracking with basic auth: PostgreSQL over TLS, the server, its users and grants."""
