"""Seldon Core v1 model server for the platform's MLflow scikit-learn models.

Built into the serving image on its own: nothing here imports from the rest of the repository.
"""
