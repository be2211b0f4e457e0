"""The Pulumi entry point of the platform and its offline renderer."""
