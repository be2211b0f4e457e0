"""Helpers shared by several suites, imported explicitly (``from tests.support.x import ...``);
fixtures stay in the conftest.py files."""
