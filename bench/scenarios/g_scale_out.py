"""Scenario g: scale-out: 8 ranks against PostgreSQL with 4 workers. (Not written yet.)"""
ID = "g"
TITLE = "scale-out: 8 ranks against PostgreSQL with 4 workers"


def run(ctx):
    return {"rows": [], "targets": [], "notes": ["not measured yet"]}
