"""The web (layer 4, installed as ``convoflow.web``): the HTTP API, live lookups, explanations,
the dashboard and the export page.

Uses the worker (``convoflow.streams``) and the reports; nothing below imports it.
"""
