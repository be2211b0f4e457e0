"""Versioned training data: the stack's DVC remote and the data version a training Job pulls."""
