"""What convoflow's Faust subclasses override or rely on, checked when a worker starts.

Each entry names a function of faust-streaming, mode-streaming or aiokafka whose
source was read when ``convoflow.streams.faust_ext`` was written, with a hash of that
source. A release that changes one of them could silently turn a fix off (an
override of a method Faust no longer calls) or break an assumption, so the
worker refuses to start and names the first one that differs. After reading the
new source and adapting the subclasses, record the new hashes with
``python -m convoflow.streams.faust_ext.audit`` (it prints the table below).
"""
from __future__ import annotations

import hashlib
import importlib
import inspect
import sys
from importlib import metadata

from convoflow.contract.config import ConfigError

PINNED = {"faust-streaming": "0.15.3", "aiokafka": "0.14.0", "mode-streaming": "0.7.1"}

# "module:qualified name" -> sha256 of its source, first 16 hex digits.
AUDITED = {
    # convoflow.streams.faust_ext.transport.Consumer overrides these ...
    "faust.transport.consumer:Consumer._drain_messages": "44a2500309e83c63",
    "faust.transport.consumer:Consumer.getmany": "4b168d84882a70d6",
    "faust.transport.consumer:Consumer._new_offset": "1d2c7ea89a7ad4f1",
    "faust.transport.consumer:Consumer._filter_tps_with_pending_acks": "f6f9239774234e7e",
    "faust.transport.consumer:Consumer.perform_seek": "0e8c130ff4b0afd8",
    "faust.transport.consumer:Consumer.seek": "b86a9fe05f956b30",
    "faust.transport.consumer:Consumer.on_partitions_revoked": "d04b7ae72c6fc206",
    "faust.transport.consumer:Consumer.wait_empty": "e4662fe24f094819",
    "faust.transport.drivers.aiokafka:Consumer._new_consumer_thread": "0870ec53dea75083",
    "faust.transport.drivers.aiokafka:Consumer.verify_event_path": "a17e8f0610e1abcb",
    "faust.transport.drivers.aiokafka:Consumer._getmany": "f9d47aa9010b5ff2",
    # Alignment: a partition left out of a fetch keeps its fetched records in aiokafka, which
    # fetches no more of it until they are taken; the last fetch's high watermark
    "aiokafka.consumer.fetcher:Fetcher.fetched_records": "be4348896b9b66af",
    "aiokafka.consumer.fetcher:Fetcher._get_actions_per_node": "1dab2cf937d165d0",
    "faust.transport.drivers.aiokafka:Consumer.highwater": "f52cb0d26a713c3a",
    "faust.transport.drivers.aiokafka:AIOKafkaConsumerThread.highwater": "6f7dbe109ae6807f",
    # ... and relies on these (the records it fetches, the commit that reads its acks, the
    # rebalance that stops the flow and clears the queues, the conductor's routing)
    "faust.transport.consumer:Consumer.__init__": "302410d59e6972d1",
    "faust.transport.consumer:Consumer._wait_next_records": "6218e1969a636b3f",
    "faust.transport.consumer:Consumer.force_commit": "cc094614d22c70fb",
    "faust.transport.consumer:Consumer._filter_committable_offsets": "dc5e9baf5d994485",
    "faust.transport.consumer:Consumer._commit_offsets": "1a69799041188441",
    "faust.transport.consumer:Consumer._should_commit": "5ce941793947ad42",
    "faust.transport.consumer:Consumer.ack": "5fcf41cf45153475",
    "faust.transport.drivers.aiokafka:AIOKafkaConsumerThread._fetch_records": "39a2c6c79fc1455a",
    "faust.transport.drivers.aiokafka:Consumer._to_message": "7c24f6511b2fcef7",
    "faust.app.base:App._on_partitions_revoked": "d5c895bbe57dc73a",
    "faust.app.base:App._on_partitions_assigned": "de932b7927db85b3",
    "faust.transport.conductor:Conductor.__init__": "441bc3b1df592aa7",
    "faust.transport.conductor:Conductor.acks_enabled_for": "77ff8a731d3085ed",
    "mode.utils.queues:FlowControlEvent.manage_queue": "a9a01679eaacf42c",
    "mode.utils.queues:FlowControlEvent.resume": "4dcdc1253fd0dcb4",
    # ConsumerThread: aiokafka's fetch wait, set on the consumer before it starts
    "faust.transport.drivers.aiokafka:AIOKafkaConsumerThread._create_worker_consumer": "c2701bfc3e6f6cad",
    "aiokafka.consumer.consumer:AIOKafkaConsumer.start": "2f1ba70443327538",
    # Producer and ProducerBuffer
    "faust.transport.producer:Producer.__init__": "5c53a4b47aa1372b",
    "faust.transport.producer:ProducerBuffer._send_pending": "4a9d5f932b56bc68",
    "faust.transport.producer:ProducerBuffer.flush": "26fbebb124ad9c98",
    # Producer: acks=all and idempotence added to the settings, which _new_producer applies last
    "faust.transport.drivers.aiokafka:Producer._settings_extra": "a4c7bc41b6382223",
    "faust.transport.drivers.aiokafka:Producer._new_producer": "e72355c3430ed02f",
    # Producer.send_records: whole record batches into aiokafka's accumulator, whose future
    # resolves with the batch's first offset, and which the producer's flush waits for
    "faust.transport.drivers.aiokafka:Producer._ensure_producer": "5592a4bbdf251325",
    "faust.transport.drivers.aiokafka:Producer.flush": "36d0cb3615f65b01",
    "aiokafka.producer.producer:AIOKafkaProducer.create_batch": "c4efda4bb7a09741",
    "aiokafka.producer.producer:AIOKafkaProducer.send_batch": "bf42b0f0c5c0646d",
    "aiokafka.producer.message_accumulator:MessageAccumulator.add_batch": "5ed1c5b1367ad854",
    "aiokafka.producer.message_accumulator:MessageBatch.done": "2d765e5c2dc8638d",
    # Store
    "faust.stores.rocksdb:Store.__init__": "c7c0fa2989e8ab4a",
    "faust.stores.rocksdb:Store.revoke_partitions": "3f85447a24fc34ff",
    "faust.stores.rocksdb:Store._db_for_partition": "cb7e67d5f9efc4bc",
    "faust.stores.rocksdb:RocksDBOptions.as_options": "d2a1bea17736d2eb",
    "faust.stores.rocksdb:RocksDBOptions.open": "ff87e92d69e2f487",
    # Store: the partition copies on disk, the offset a restore reads on from, what a standby writes
    "faust.stores.rocksdb:Store.partition_path": "0cc4eae7dc33fcf1",
    "faust.stores.rocksdb:Store.persisted_offset": "6f2e502fb86043a1",
    "faust.stores.rocksdb:Store.apply_changelog_batch": "ea3344d369fc4ab5",
    "faust.stores.rocksdb:Store.set_persisted_offset": "b4c811926678346e",
    "faust.stores.rocksdb:Store.on_rebalance": "38357aed5b7fc777",
    "faust.stores.rocksdb:Store.assign_partitions": "34dc27ace6dd9160",
    # TableManager: overridden, and the recovery it hands the rebalance to after the bulk restore
    "faust.tables.manager:TableManager.__init__": "f13ed9db7ccd1a53",
    "faust.tables.manager:TableManager.on_start": "365dd25fbc0e0684",
    "faust.tables.manager:TableManager.on_rebalance": "2d2c23a07bf54328",
    "faust.tables.recovery:Recovery.__init__": "acec96bd78fac09b",
    "faust.tables.recovery:Recovery.on_rebalance": "aa4d997a1795ceae",
    "faust.tables.recovery:Recovery._resume_streams": "d986a6710c1aca98",
    # PartitionAssignor: overridden ...
    "faust.assignor.partition_assignor:PartitionAssignor.__init__": "64cb8790c57251c3",
    "faust.assignor.partition_assignor:PartitionAssignor.metadata": "6d7f0ebcd61e8b4d",
    "faust.assignor.partition_assignor:PartitionAssignor._get_client_metadata": "a0e1ba5c0d014848",
    "faust.assignor.partition_assignor:PartitionAssignor.on_assignment": "72f34bf053d696b5",
    "faust.assignor.partition_assignor:PartitionAssignor._perform_assignment": "1e0bf2c5c8f42574",
    "faust.assignor.partition_assignor:PartitionAssignor._global_table_standby_assignments": "b956f05703d92ce5",
    "faust.assignor.partition_assignor:PartitionAssignor._protocol_assignments": "e231e876d04a222d",
    # ... and relied on (the metadata it extends, how an assignment is encoded and read)
    "faust.assignor.partition_assignor:PartitionAssignor._metadata": "966368ad7e0cd58b",
    "faust.assignor.partition_assignor:PartitionAssignor._compress": "de873849928dbd83",
    "faust.assignor.partition_assignor:PartitionAssignor._decompress": "d65b7310c43aebd7",
    "faust.assignor.partition_assignor:PartitionAssignor.assigned_actives": "cd131e5935099dda",
    "faust.assignor.partition_assignor:PartitionAssignor.assigned_standbys": "c3cff09409143afd",
    "faust.assignor.client_assignment:ClientAssignment": "6c9029cadc9cc819",
    "faust.assignor.client_assignment:ClientMetadata": "863328922f0a6bb1",
}


class AuditError(ConfigError):
    """The installed Faust is not the one convoflow's subclasses were written against."""


def resolve(name: str):
    module, _, qualname = name.partition(":")
    obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def fingerprint(name: str) -> str:
    obj = resolve(name)
    source = inspect.getsource(obj.fget if isinstance(obj, property) else obj)
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def differences(audited: dict | None = None) -> list[str]:
    """One line for each pinned package or audited function that is not what was audited."""
    found = []
    for package, version in PINNED.items():
        try:
            installed = metadata.version(package)
        except metadata.PackageNotFoundError:
            installed = "not installed"
        if installed != version:
            found.append(f"{package} {installed} is installed; convoflow's Faust subclasses are audited "
                         f"against {version} (pip install {package}=={version})")
    for name, expected in (AUDITED if audited is None else audited).items():
        try:
            actual = fingerprint(name)
        except (ImportError, AttributeError, OSError, TypeError) as exc:
            found.append(f"{name} is gone ({type(exc).__name__}); convoflow's Faust subclasses rely on it")
            continue
        if actual != expected:
            found.append(f"{name} is not the code convoflow audited (source hash {actual}, audited {expected}): "
                         f"read its new source before running convoflow on it")
    return found


def check() -> None:
    """Refuse to run on a Faust whose overridden or relied-on code is not the audited one."""
    found = differences()
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise AuditError(found[0] + more)


def main() -> int:
    print("AUDITED = {")
    for name in AUDITED:
        print(f'    "{name}": "{fingerprint(name)}",')
    print("}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
