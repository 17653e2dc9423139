"""The per-dialect interface: the SQL facts that differ between databases.

One subclass per family, in its package's ``dialect.py`` (``dialects/<family>/``), declared by the
family (``contract/family.py``). Everything here is pure: methods return strings or lists of
statements and never touch a connection, so they are unit-testable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, ClassVar

from airflow_provider_tagoffline.value_types import parse_value_type

SWAP_SUFFIXES = ("_dpfx_b", "_dpfx_tmp")
PARTITION_FORMATS = ("yyyyMMdd", "yyyy-MM-dd", "yyyy/MM/dd", "yyyy.MM.dd")


@dataclass(frozen=True)
class DdlType:
    """A column type an edited ``CREATE TABLE`` may use on a family, and how it is written back.

    Edited DDL is parsed (``create_table/parse.py``); a column's type is accepted only when the
    family lists it here, and what runs is ``render`` of the parsed numbers, never the user's text.
    """

    spelling: str
    #: upper bound of each parameter, in order (``(65, 30)``: precision ≤ 65, scale ≤ 30); () = none
    limits: tuple[int, ...] = ()
    #: parameters that must be given (``VARCHAR2`` needs its length)
    required: int = 0
    #: a fixed rendering whatever the parameters (MySQL's BOOLEAN is ``tinyint(1)``)
    fixed: str | None = None
    #: Oracle's ``VARCHAR2(n CHAR | BYTE)``
    length_semantics: bool = False

    def render(self, params: tuple[int, ...], semantics: str | None = None) -> str:
        if self.fixed is not None:
            return self.fixed
        if not params:
            return self.spelling
        inner = ",".join(str(p) for p in params)
        return f"{self.spelling}({inner}{' ' + semantics if semantics else ''})"


#: host names that all mean "this machine" (an empty host is the local socket)
_LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1", "localhost.localdomain"}


class Dialect:
    #: identifier limit; ``None`` means none worth checking
    max_identifier_bytes: ClassVar[int | None] = None
    max_identifier_chars: ClassVar[int | None] = None
    #: whether a target lives in a schema (PostgreSQL family, Oracle owner)
    has_schemas: ClassVar[bool] = False
    #: whether a target can be date-partitioned
    supports_partitions: bool = False
    quote_char: ClassVar[str] = '"'
    #: DB-API parameter marker of the driver Airflow's hook returns ("qmark": ?, "format": %s)
    paramstyle: ClassVar[str] = "qmark"
    #: the type to cast a value to for text comparison (lookups) in warehouse queries
    text_type: ClassVar[str] = "VARCHAR"
    #: whether the engine has FULL OUTER JOIN: several sources are then one FULL JOIN chain on the
    #: entity ID; without it, LEFT JOINs plus the anti-joined IDs of later sources (engine/extract.py)
    full_outer_join: ClassVar[bool] = True
    #: the cheapest statement a live session answers (after a failure: was the connection lost?)
    ping_sql: ClassVar[str] = "SELECT 1"
    #: a pseudo-column giving physical row order, so "the last row wins" among duplicate IDs
    row_order: ClassVar[str | None] = None
    #: whether the database compares table and schema names case-insensitively even when quoted
    #: (MySQL/MariaDB, SQLite, DuckDB); PostgreSQL and Oracle keep the case of a quoted name
    names_ignore_case: ClassVar[bool] = False
    #: the server's port when a connection names none (None: a file, or no usual port)
    default_port: ClassVar[int | None] = None
    #: value type (``value_types.py``) → column type; ``key_string`` a string entity ID (indexable),
    #: ``partition`` the date partition column; ``{p},{s}`` a decimal's precision and scale
    column_types: ClassVar[dict[str, str]] = {}

    # ---- one-click create table (create_table/) -------------------------------------------------
    #: sqlglot's name of the dialect edited DDL is parsed with
    sqlglot_dialect: ClassVar[str] = ""
    #: column types an edited CREATE TABLE may use, by sqlglot's type name
    ddl_types: ClassVar[dict[str, DdlType]] = {}
    #: column and table comments: inline ``COMMENT '...'`` (MySQL) or ``COMMENT ON`` statements
    ddl_inline_comments: ClassVar[bool] = False
    ddl_comment_on: ClassVar[bool] = False
    #: the primary key as a named ``CONSTRAINT "{table}_pk"`` (names are unique per schema there)
    ddl_named_primary_key: ClassVar[bool] = False
    #: the partition clause; {col} is the quoted partition column, {first} the literal of a first value
    ddl_partition_clause: ClassVar[str] = ""
    #: MySQL: the one storage engine tables are created with, and the character sets an edit may pick
    ddl_engine: ClassVar[str | None] = None
    ddl_charsets: ClassVar[tuple[str, ...]] = ()

    # ---- OpenLineage dataset names (lineage.py) --------------------------------------------------
    #: the scheme of the dataset namespace in OpenLineage's naming spec (None: the kind, e.g. trino)
    lineage_scheme: ClassVar[str | None] = None
    #: how many levels a dataset name has: 3 {database}.{schema}.{table}, 2 {database}.{table}, 1 {table}
    lineage_levels: ClassVar[int] = 3

    def __init__(self, kind: str, family: str | None = None):
        self.kind = kind
        #: one name for every kind of the family (greenplum, adb_pg, opengauss: postgres)
        self.family = family or kind

    @property
    def title(self) -> str:
        """The kind as users read it in messages."""
        return self.kind

    # ---- column types (one-click create table) -------------------------------------------------
    def column_type(self, value_type: str, *, key: bool = False) -> str:
        """The column type for a value of ``value_type`` (``key``: the entity ID, a primary key)."""
        vt = parse_value_type(value_type)
        if vt.name == "decimal":
            return self.column_types["decimal"].format(p=vt.precision, s=vt.scale)
        if key and vt.name == "string":
            return self.column_types["key_string"]
        return self.column_types[vt.name]

    # ---- identifiers -------------------------------------------------------------------
    def quote(self, identifier: str) -> str:
        q = self.quote_char
        return q + identifier.replace(q, q + q) + q

    def qualify(self, schema: str | None, table: str) -> str:
        return f"{self.quote(schema)}.{self.quote(table)}" if schema else self.quote(table)

    def qualify_dotted(self, name: str) -> str:
        """A warehouse table written ``schema.table`` (or ``db.schema.table``), each part quoted."""
        return ".".join(self.quote(part) for part in name.split("."))

    @property
    def placeholder(self) -> str:
        return "%s" if self.paramstyle == "format" else "?"

    def escape_for_params(self, sql_text: str) -> str:
        """Text that must survive the driver's parameter substitution (``%`` doubles for format)."""
        return sql_text.replace("%", "%%") if self.paramstyle == "format" else sql_text

    def cast_text(self, expr: str) -> str:
        return f"CAST({expr} AS {self.text_type})"

    # ---- warehouse queries ----------------------------------------------------------------
    def rows_and_duplicates_sql(self, relation: str, key: str, where: str, key_type: str | None = None) -> str:
        """``SELECT rows, duplicate IDs`` of ``relation`` (``table alias``) filtered by ``where``;
        ``key_type``: the value type the IDs are declared with (``bigint``), when known.

        A GROUP BY rather than COUNT(DISTINCT): server engines spill it to disk under memory pressure.
        """
        return (f"SELECT COALESCE(SUM(g.n), 0), COALESCE(SUM(g.n), 0) - COUNT(*) FROM (SELECT COUNT(*) AS n "
                f"FROM {relation} WHERE {where} GROUP BY {key}) g")

    def dedupe_order(self, key: str) -> str:
        """The ``ORDER BY`` of ``ROW_NUMBER() OVER (PARTITION BY key ...)`` that keeps the last row of
        an ID: the newest physical row where the engine has a row order, else none (any one row)."""
        return f" ORDER BY {self.row_order} DESC" if self.row_order else ""

    def slice_of(self, key: str, count: int) -> str | None:
        """An expression placing ID ``key`` in one of ``count`` passes (0 to count - 1), equal IDs of
        one type in the same pass; None when the engine has no such hash (no passes then)."""
        return None

    def last_row_per_key_sql(self, table: str, key: str, where: str) -> str:
        """A query of the rows of ``table`` (aliased ``d``) matching ``where``, one per ``key`` (a
        column of ``d``): the physically last where the engine has a row order (``dedupe_order``)."""
        return (f"SELECT * FROM (SELECT d.*, ROW_NUMBER() OVER (PARTITION BY {key}{self.dedupe_order(key)}) "
                f"AS tagoffline_rn FROM {table} d WHERE {where}) r WHERE tagoffline_rn = 1")

    def column_type_sql(self, table: str, column: str) -> tuple[str, list[object]] | None:
        """A query (and its parameters) whose one row says what decides whether ``column`` of
        warehouse table ``table`` compares with another column as it is; None: the type the
        driver's cursor describes is enough."""
        return None

    # ---- preview: the extract compared with the live table inside one engine ---------------
    def differs(self, a: str, b: str) -> str:
        """Whether two values differ, NULL being a value (standard SQL's IS DISTINCT FROM)."""
        return f"({a} IS DISTINCT FROM {b})"

    def char_length(self, expr: str) -> str:
        """Length of a text value in characters."""
        return f"LENGTH({expr})"

    def first_rows_sql(self, sql: str, n: int) -> str:
        """The first ``n`` rows of query ``sql`` (a preview's sample: the rest is never sent)."""
        return f"SELECT * FROM ({sql}) tagoffline_first LIMIT {int(n)}"

    def quote_literal(self, value: str) -> str:
        """A string literal (standard SQL: quotes doubled); used only where a parameter cannot be."""
        return "'" + value.replace("'", "''") + "'"

    def identifier_problem(self, name: str) -> str | None:
        """Why ``name`` cannot be used as an identifier here, or ``None``."""
        if not name:
            return "must not be empty"
        if "\x00" in name:
            return "must not contain NUL characters"
        if self.max_identifier_bytes is not None and len(name.encode()) > self.max_identifier_bytes:
            return (
                f"is {len(name.encode())} bytes long; {self.kind} allows at most "
                f"{self.max_identifier_bytes} bytes"
            )
        if self.max_identifier_chars is not None and len(name) > self.max_identifier_chars:
            return f"is {len(name)} characters long; {self.kind} allows at most {self.max_identifier_chars}"
        return None

    def swap_name_problem(self, table: str) -> str | None:
        """Problem with the swap tables' names (``{table}_dpfx_b`` / ``_dpfx_tmp``), or ``None``."""
        # The longest suffix first, so the message says how much to cut for both to fit.
        for suffix in sorted(SWAP_SUFFIXES, key=len, reverse=True):
            problem = self.identifier_problem(table + suffix)
            if problem:
                return (
                    f"table name {table!r} is too long: the swap table {table + suffix!r} {problem}; "
                    f"shorten the table name by {self._excess(table + suffix)}"
                )
        return None

    def _excess(self, name: str) -> str:
        if self.max_identifier_bytes is not None and len(name.encode()) > self.max_identifier_bytes:
            return f"{len(name.encode()) - self.max_identifier_bytes} byte(s)"
        if self.max_identifier_chars is not None:
            return f"{len(name) - self.max_identifier_chars} character(s)"
        return "a few characters"

    def normalize_identifier(self, name: str) -> str:
        """How the database stores a name given quoted by us (identity; Oracle keeps case too)."""
        return name

    # ---- where a target is -------------------------------------------------------------
    def database_identity(self, conn: Any) -> tuple[str, ...]:
        """Which physical database an Airflow connection points at, so two connection ids of one
        database are recognised: the family with host, port and database.

        Host names are compared as written (lower-cased; the names of this machine as one): two DNS
        names of one server are not recognised.
        """
        host = (conn.host or "").strip().lower().rstrip(".")
        host = "localhost" if host in _LOCAL_HOSTS else host
        port = str(conn.port or self.default_port or "")
        return (self.family, host, port, self.database_name(conn))

    def database_name(self, conn: Any) -> str:
        """The database of a connection, as the server compares its name."""
        return conn.schema or ""

    def file_identity(self, conn: Any, path: str | None) -> tuple[str, ...]:
        """``database_identity`` of an embedded database: its file (in memory: only its connection id)."""
        path = (path or "").strip()
        if not path or path == ":memory:":
            return (self.family, "conn", str(conn.conn_id))
        return (self.family, "file", os.path.realpath(os.path.expanduser(path)))

    def lineage_namespace(self, conn: Any) -> str:
        """OpenLineage's namespace of a connection's tables: ``{scheme}://{host}:{port}``, the
        server (as Airflow's own hooks name it: the port written even when it is the default)."""
        host = (conn.host or "").strip()
        port = conn.port or self.default_port
        return f"{self.lineage_scheme or self.kind}://{host}" + (f":{port}" if port else "")

    def lineage_database(self, conn: Any) -> str:
        """The database level of a dataset name."""
        return self.database_name(conn)

    def lineage_name(self, conn: Any, table: str, schema: str | None = None) -> str:
        """OpenLineage's name of ``table`` (maybe dotted, as warehouse tables are written) in
        ``schema``: the missing leading levels filled with the database and the default schema."""
        parts = ([schema] if schema else []) + table.split(".")
        fillers = [self.lineage_database(conn),
                   self.default_schema(getattr(conn, "login", None)) if self.has_schemas else None]
        missing = self.lineage_levels - len(parts)
        if missing > 0:
            parts = [f for f in fillers[:missing] if f] + parts
        return ".".join(parts)

    def default_schema(self, login: str | None) -> str | None:
        """The schema an unqualified table lands in for a connection logging in as ``login``;
        None for kinds without schemas."""
        return None

    def name_key(self, name: str) -> str:
        """``name`` as the database compares it: two names with one key are one table or schema."""
        return name.lower() if self.names_ignore_case else name

    def fold_unquoted(self, name: str) -> str:
        """How the database stores a name written without quotes (PostgreSQL lower-cases it)."""
        return name

    def same_identifier(self, a: str, b: str) -> bool:
        """Whether two stored names denote one object."""
        return self.name_key(a) == self.name_key(b)
