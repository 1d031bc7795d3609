"""Command-line tools (layer 5, with app.py and cli.py): simulator, publisher, live feed,
offline validation, explain.
"""
