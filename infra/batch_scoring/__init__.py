"""Scheduled batch scoring of a deployment: `python -m model score` as a CronJob."""
