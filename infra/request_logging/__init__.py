"""Request logging: the executor's logger per deployment and the sink that turns what it logs
into training data (request_log/)."""
