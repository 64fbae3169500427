"""Scenario h: the local SQLite store (no server). (Not written yet.)"""
ID = "h"
TITLE = "the local SQLite store (no server)"


def run(ctx):
    return {"rows": [], "targets": [], "notes": ["not measured yet"]}
