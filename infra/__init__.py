"""Reusable Pulumi components of the platform: one concern per module, config class beside it."""
