"""``python -m convoflow.schema``: regenerate the schema files from convoflow/events.py."""
from convoflow.schema import write

for path in write():
    print(path.name)
