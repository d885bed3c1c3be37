"""Conditions and statements that differ by engine: the smaller of two values, `IN` over
many values or pairs (one array on PostgreSQL, chunks under SQLite's parameter limit), one
bound list of values (as a condition or as rows), sums over several groupings in one statement,
a statement built once per engine, and `INSERT .. ON CONFLICT`."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Generic, TypeVar

import orjson
from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    FromClause,
    Integer,
    Select,
    String,
    Table,
    TableValuedAlias,
    TextClause,
    any_,
    bindparam,
    case,
    cast,
    func,
    literal,
    literal_column,
    null,
    select,
    text,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from stroom_platform.dialect.engines import is_postgres

T = TypeVar("T")

# SQLite allows 32766 bound variables per statement; 5,000 rows of a few columns stay well under
# it, and under asyncpg's limit of 32767 as well.
CHUNK = 5000

# Texts travel joined by this character (an empty text standing for None) where PostgreSQL splits
# them again: asyncpg inspects every element of an array parameter in Python, several times what
# joining and splitting cost. JSON, keys and codes hold no control character.
SEPARATOR = "\x1f"


def joined_texts(values: Sequence[str | None]) -> str | None:
    """`values` as one text to split (`SEPARATOR`); None where they could not be told apart."""
    if "" in values:
        return None
    joined = SEPARATOR.join(["" if value is None else value for value in values])
    return joined if joined.count(SEPARATOR) == len(values) - 1 else None


@lru_cache(maxsize=1024)
def sql_text(sql: str) -> TextClause:
    """`text(sql)`, built once: building one finds its bound parameters with a regular
    expression, a fair part of the client's cost of a small batch's statement. The statements
    built from our own metadata are few, so they are kept."""
    return text(sql)


def least_of(conn: AsyncConnection, stored: Any, given: Any) -> ColumnElement[Any]:
    """The smaller of a stored value, which may be NULL, and a given one, which is not."""
    if is_postgres(conn):
        return func.least(stored, given)  # PostgreSQL's least passes over a NULL
    return func.min(func.coalesce(stored, given), given)


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """`items` in slices that each fit in one statement's bound parameters."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def member_of(conn: AsyncConnection, column: Any, values: Sequence[Any]) -> list[ColumnElement[bool]]:
    """`column IN values`, one condition per statement to run: a single array on PostgreSQL."""
    if is_postgres(conn):
        return [column == any_(literal(list(values), postgresql.ARRAY(column.type)))]
    return [column.in_(chunk) for chunk in chunks(values)]


def among(column: ColumnElement[Any], name: str, postgres: bool) -> ColumnElement[bool]:
    """`column IN` the values bound as the one parameter `name` (see `bound_values`), so that a
    statement built once for an engine compiles once however many values there are."""
    if postgres:
        return column == any_(bindparam(name, type_=postgresql.ARRAY(column.type)))
    values = func.json_each(bindparam(name, type_=String)).table_valued("value")
    return column.in_(select(values.c.value))


def listed(name: str, postgres: bool) -> TableValuedAlias:
    """The text values bound as the one parameter `name` (see `bound_values`) as rows of `value`
    and its position in the list (`list_position`)."""
    if postgres:
        values = func.unnest(bindparam(name, type_=postgresql.ARRAY(String)))
        return values.table_valued("value", with_ordinality="position").render_derived(name)
    return func.json_each(bindparam(name, type_=String)).table_valued("value", "key").alias(name)


def keyed_rows(
    key: ColumnElement[Any], columns: Sequence[ColumnElement[Any]], name: str, postgres: bool
) -> Select[Any]:
    """`columns` of the rows whose `key` (unique, indexed, text) is among the values bound as
    `name` (see `bound_values`). On PostgreSQL each value is looked up in the key's index by a
    lateral subquery that cannot be merged (OFFSET 0): `key = ANY(values)` lets the plan
    PostgreSQL keeps for a prepared statement after five runs, made while the table was small and
    not analysed since, read the whole table on every run."""
    if not postgres:
        return select(*columns).where(among(key, name, postgres))
    values = listed(name, postgres)
    found = select(*columns).where(key == values.c.value).offset(literal_column("0")).lateral("found")
    return select(*found.c).select_from(values).join(found, true())


def list_position(rows: TableValuedAlias) -> ColumnElement[int]:
    """A `listed` row's position in its list, from 0."""
    return rows.c.position - 1 if "position" in rows.c else rows.c.key


def grouping_sets(
    source: FromClause,
    sets: Sequence[Sequence[str]],
    aggregates: Sequence[ColumnElement[Any]],
    postgres: bool,
) -> Select[Any] | CompoundSelect[Any]:
    """The aggregates over `source` grouped by each set of its columns in turn, in one statement:
    the columns of every set, NULL where a row's set lacks them, then the aggregates, then
    `grouping_set`, the index of the row's set. PostgreSQL groups once (GROUPING SETS); SQLite,
    which has none, takes a UNION ALL of a GROUP BY per set."""
    names = list(dict.fromkeys(name for grouped in sets for name in grouped))
    columns = [source.c[name] for name in names]
    if postgres:
        # GROUPING's bits, from the last column, are those of the columns a row is not grouped by.
        masks = {
            sum(1 << (len(names) - 1 - i) for i, name in enumerate(names) if name not in grouped): index
            for index, grouped in enumerate(sets)
        }
        which = case(masks, value=func.grouping(*columns)).label("grouping_set")
        grouping = func.grouping_sets(*(tuple_(*(source.c[name] for name in grouped)) for grouped in sets))
        return select(*columns, *aggregates, which).group_by(grouping)
    return union_all(
        *(
            select(
                *(c if c.name in grouped else null().label(c.name) for c in columns),
                *aggregates,
                literal(index, Integer).label("grouping_set"),
            ).group_by(*(source.c[name] for name in grouped))
            for index, grouped in enumerate(sets)
        )
    )


def bound_values(conn: AsyncConnection, values: Sequence[Any]) -> Any:
    """`values` as the parameter of an `among`: an array on PostgreSQL, a JSON list on SQLite."""
    return list(values) if is_postgres(conn) else orjson.dumps(list(values)).decode()


class PerEngine(Generic[T]):
    """What is built once for PostgreSQL and once for SQLite (a statement SQLAlchemy then finds
    in its compiled cache), handed out for a connection."""

    def __init__(self, build: Callable[[bool], T]) -> None:
        self._built = {postgres: build(postgres) for postgres in (True, False)}

    def __call__(self, conn: AsyncConnection) -> T:
        return self._built[is_postgres(conn)]


def pair_member_of(
    conn: AsyncConnection, first: Any, second: Any, pairs: Sequence[tuple[Any, Any]]
) -> list[ColumnElement[bool]]:
    """`(first, second) IN pairs`, one condition per statement to run: on PostgreSQL the pairs
    travel as two arrays, which it plans as one join instead of one index probe per pair."""
    if is_postgres(conn):
        arrays = [
            cast(literal(list(values), postgresql.ARRAY(column.type)), postgresql.ARRAY(column.type))
            for column, values in ((first, [a for a, _ in pairs]), (second, [b for _, b in pairs]))
        ]
        wanted = func.unnest(*arrays).table_valued("first", "second").render_derived()
        return [tuple_(first, second).in_(select(wanted.c.first, wanted.c.second))]
    return [tuple_(first, second).in_(chunk) for chunk in chunks(pairs)]


def insert_on_conflict(conn: AsyncConnection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """The dialect's INSERT, which has ON CONFLICT DO NOTHING / DO UPDATE on both engines."""
    return postgresql.insert(table) if is_postgres(conn) else sqlite.insert(table)


@dataclass(frozen=True, slots=True)
class OnConflict:
    """What an insert does with a row whose `keys` are stored already: nothing, or with `set_sql`
    set columns to SQL over `excluded` and the stored row, where `where_sql` holds."""

    keys: tuple[str, ...]
    set_sql: Mapping[str, str] = field(default_factory=dict)
    where_sql: str | None = None

    def sql(self) -> str:
        # Quoted: a key may be a reserved word ("offset").
        keys = ", ".join(f'"{key}"' for key in self.keys)
        target = f" ON CONFLICT ({keys})"
        if not self.set_sql:
            return target + " DO NOTHING"
        sets = ", ".join(f'"{c}" = {expression}' for c, expression in self.set_sql.items())
        return target + f" DO UPDATE SET {sets}" + (f" WHERE {self.where_sql}" if self.where_sql else "")

    def sqlite_insert(self, table: Table) -> sqlite.Insert:
        statement = sqlite.insert(table)
        index = [table.c[k] for k in self.keys]
        if not self.set_sql:
            return statement.on_conflict_do_nothing(index_elements=index)
        return statement.on_conflict_do_update(
            index_elements=index,
            set_={c: literal_column(expression) for c, expression in self.set_sql.items()},
            where=text(self.where_sql) if self.where_sql else None,
        )
