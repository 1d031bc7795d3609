"""The worker's local state: every table partition's RocksDB, and what reads, writes, restores,
checkpoints and sizes it.

- ``partition``: one partition's database as a table's store has it open: its changelog
  offset (``__faust\\0offset__``), writes without the write-ahead log, whole-store reads.
- ``writer``: ``TableWriter``, an agent's reads and writes of a partition, sent to the
  changelog once per batch; ``partition_context`` names the partition.
- ``recovery``: the bulk restore of assigned partitions from their changelogs.
- ``checkpoint``: consistent copies of stores for the export scan processes.
- ``memory``: the process's RocksDB budget (one shared cache, write buffers charged to it).

The agents, the restore, the replica's contact copy and the scan processes all go through
these modules; Faust's store class (``convoflow.streams.faust_ext.store``) takes its options
and memory from here.
"""
