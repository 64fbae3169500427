"""Scenario d: 1,000,000 metrics logged while the server is stopped. (Not written yet.)"""
ID = "d"
TITLE = "1,000,000 metrics logged while the server is stopped"


def run(ctx):
    return {"rows": [], "targets": [], "notes": ["not measured yet"]}
