"""Reflex states, one module per feature."""
