"""Scenario b: 100,000 metrics until all are on the server. (Not written yet.)"""
ID = "b"
TITLE = "100,000 metrics until all are on the server"


def run(ctx):
    return {"rows": [], "targets": [], "notes": ["not measured yet"]}
