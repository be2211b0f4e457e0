"""Continuous training inside the cluster: the retrain trigger (Alertmanager webhook -> one Job
from a deployment's training CronJob). The Job itself runs `python -m model train`.

Built into the training image beside `model/`; imports nothing else from the repository.
"""
