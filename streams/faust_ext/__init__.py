"""convoflow's extensions of Faust, each installed through a seam Faust offers.

- ``transport``: the Kafka transport (consumer, consumer thread, producer), chosen
  by the broker URL's scheme ``convoflow://`` (``faust.transports`` entry point).
  It hands our topics' records to the agents in chunks (``BatchSink``).
- ``store``: the RocksDB table store, chosen by ``store="convoflow://"``
  (``faust.stores`` entry point).
- ``tables``: the table manager, the app's ``TableManager`` class setting.
- ``audit``: the exact versions and the base methods these subclasses override
  or rely on, checked when a worker starts.

Nothing here assigns to a Faust, mode, aiokafka or rocksdict class or module.
Where a subclass reads a private attribute of its base (Faust offers no public
way to it), the method that defines it is in ``audit.AUDITED``.
"""

SCHEME = "convoflow"  # the broker URL's and the store URL's scheme, named by the entry points


def broker_urls(bootstrap: str) -> list[str]:
    """Faust's broker URLs for a ``host:port[,host:port...]`` list: convoflow's transport."""
    return [f"{SCHEME}://{host}" for host in bootstrap.split(",") if host]
