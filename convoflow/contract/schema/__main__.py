"""``python -m convoflow.contract.schema``: regenerate the schema files from convoflow/contract/events.py."""
from convoflow.contract.schema import write

for path in write():
    print(path.name)
