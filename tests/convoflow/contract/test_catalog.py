"""The topic catalog is the one declaration: the worker's tables, the contract's topics and the docs follow it."""
from pathlib import Path

from convoflow.app import create_app
from convoflow.contract import catalog, events
from convoflow.contract.config import Settings

ROOT = Path(__file__).resolve().parents[3]


def test_the_worker_s_tables_are_the_catalog_s_changelogs():
    app, _ = create_app(Settings(broker="kafka://127.0.0.1:1", topic_prefix="cat-"))
    assert set(app.tables) == set(catalog.names(catalog.CHANGELOG))
    for table in app.tables.values():
        declared = next(t for t in catalog.CATALOG if t.kind == catalog.CHANGELOG and t.name == table.name)
        assert declared.full_name("cat-") == table.changelog_topic.get_topic_name()


def test_the_contract_s_topics_and_keys_are_the_catalog_s_inputs():
    assert events.TOPICS == catalog.names(catalog.INPUT)
    for etype, spec in events.describe().items():
        declared = next(t for t in catalog.CATALOG if t.kind == catalog.INPUT and t.name == spec["topic"])
        assert spec["key"] == declared.key or (declared.key == "<kind>:<id>" and spec["key"].endswith("_id}")), etype


def test_names_are_unique_within_a_kind_and_in_kafka():
    assert len({t.full_name("p-") for t in catalog.CATALOG}) == len(catalog.CATALOG)


def test_the_architecture_doc_names_every_topic_and_table():
    doc = (ROOT / "docs" / "architecture.md").read_text()
    missing = [t.name for t in catalog.CATALOG if f"`{t.name}`" not in doc and t.kind != catalog.FAUST]
    assert not missing, f"docs/architecture.md does not name {missing}"
