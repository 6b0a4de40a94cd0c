"""Shared test support: one module per kind of helper, imported as ``tests.support.<module>``."""
