"""Scenario f: reading a 100,000-point metric history. (Not written yet.)"""
ID = "f"
TITLE = "reading a 100,000-point metric history"


def run(ctx):
    return {"rows": [], "targets": [], "notes": ["not measured yet"]}
