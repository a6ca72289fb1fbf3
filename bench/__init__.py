"""Accuracy and speed benchmark on freshly generated faxes: ``python -m bench`` or ``intake bench``."""
