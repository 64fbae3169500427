"""Scenario e: upload and download of a large artifact. (Not written yet.)"""
ID = "e"
TITLE = "upload and download of a large artifact"


def run(ctx):
    return {"rows": [], "targets": [], "notes": ["not measured yet"]}
