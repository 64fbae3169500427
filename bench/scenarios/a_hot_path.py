"""Scenario a: one log_metric on the training thread. (Not written yet.)"""
ID = "a"
TITLE = "one log_metric on the training thread"


def run(ctx):
    return {"rows": [], "targets": [], "notes": ["not measured yet"]}
