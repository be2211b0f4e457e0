"""Continuous training: the training image, CronJobs, and the retrain trigger Alertmanager calls."""
