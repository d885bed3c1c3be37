"""What Stroom does differently on PostgreSQL and on SQLite, in one place the services call.

Each module holds one concern; callers import the names from here:

- `engines`: the one question (`is_postgres`), how an engine is made, Alembic's batch mode, how
  many writers, and the column types stored alike on both (`UtcDateTime`, `big_key`);
- `statements`: conditions and statements built per engine (`member_of`, `pair_member_of`,
  `among` with `bound_values`, `PerEngine`, `least_of`, `chunks`, `OnConflict`);
- `bulk`: writes of many rows (a column per array, COPY), the keyed reads and deletes beside them,
  and reads of many rows grouped by a value (`select_grouped`);
- `recordsets`: inserts of dicts, on PostgreSQL as one JSON parameter, several tables in one statement;
- `transactions`: advisory locks, unflushed commits, planner settings, NOTIFY and LISTEN;
- `schema`: append-only triggers, storage tuning in migrations, a table set loaded beside the
  live one and swapped in, a queue table's dead rows reclaimed (`reclaim`).
"""

from stroom_platform.dialect.bulk import (
    Reopening,
    Tails,
    append_rows,
    delete_tails,
    delete_where_in,
    insert_new_rows,
    insert_rows,
    select_grouped,
    select_valid_since,
    select_where_in,
    update_rows,
    upsert_rows,
    write_rows,
)
from stroom_platform.dialect.engines import (
    DEFAULT_POOL,
    PoolSize,
    UtcDateTime,
    alters_by_copying,
    big_key,
    is_postgres,
    make_engine,
    make_reading_engine,
    writers,
)
from stroom_platform.dialect.recordsets import (
    Closing,
    insert_dicts,
    insert_dicts_reading,
    insert_dicts_together,
    json_rows_insert,
)
from stroom_platform.dialect.schema import (
    empty_for_loading,
    finish_loading,
    reclaim,
    refusal_left_behind,
    refuse_changes,
    storage_tuning,
    swap_in,
)
from stroom_platform.dialect.statements import (
    CHUNK,
    OnConflict,
    PerEngine,
    among,
    bound_values,
    chunks,
    grouping_sets,
    insert_on_conflict,
    least_of,
    list_position,
    listed,
    member_of,
    pair_member_of,
)
from stroom_platform.dialect.transactions import (
    LockingTransactions,
    lock_names,
    lock_out_writers,
    lock_transaction,
    locked_transaction,
    notifications,
    notify,
    read_indexes_in_order,
    share_transaction_lock,
    transaction_locking,
    try_session_lock,
    unflushed_commits,
)

__all__ = [
    "CHUNK",
    "DEFAULT_POOL",
    "Closing",
    "LockingTransactions",
    "OnConflict",
    "PerEngine",
    "PoolSize",
    "Reopening",
    "Tails",
    "UtcDateTime",
    "alters_by_copying",
    "among",
    "append_rows",
    "big_key",
    "bound_values",
    "chunks",
    "delete_tails",
    "delete_where_in",
    "empty_for_loading",
    "finish_loading",
    "grouping_sets",
    "insert_dicts",
    "insert_dicts_reading",
    "insert_dicts_together",
    "insert_new_rows",
    "insert_on_conflict",
    "insert_rows",
    "is_postgres",
    "json_rows_insert",
    "least_of",
    "list_position",
    "listed",
    "lock_names",
    "lock_out_writers",
    "lock_transaction",
    "locked_transaction",
    "make_engine",
    "make_reading_engine",
    "member_of",
    "notifications",
    "notify",
    "pair_member_of",
    "read_indexes_in_order",
    "reclaim",
    "refusal_left_behind",
    "refuse_changes",
    "select_grouped",
    "select_valid_since",
    "select_where_in",
    "share_transaction_lock",
    "storage_tuning",
    "swap_in",
    "transaction_locking",
    "try_session_lock",
    "unflushed_commits",
    "update_rows",
    "upsert_rows",
    "write_rows",
    "writers",
]
