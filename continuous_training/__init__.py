"""Continuous training inside the cluster: the retrain trigger (Alertmanager webhook -> one Job
from a deployment's training CronJob) and the training Job's dataset step.

Built into the training image beside `model/`; imports nothing else from the repository.
"""
