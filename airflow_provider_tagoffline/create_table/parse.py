"""Read a user's edited ``CREATE TABLE`` back into a ``TableDesign``, or say exactly what is refused.

The text is tokenized and parsed by sqlglot in the target's dialect, so quotes, backslashes,
dollar quotes and comments are read the way that family reads them. Accepted: one ``CREATE TABLE``
of the service's target with column definitions — names, types the family lists
(``Dialect.ddl_types``) with their lengths and precisions, ``NOT NULL``, ``PRIMARY KEY``, comments,
MySQL's InnoDB table options — its ``PARTITION BY LIST`` clause where the target is partitioned,
and ``COMMENT ON`` the table or its columns. Everything else is refused naming the construct
(``statements[0]: CREATE TABLE ... AS SELECT is not allowed``). Nothing here executes anything:
the caller renders the design again (``render.py``) and runs only that.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from typing import Any

from sqlglot import ErrorLevel, exp
from sqlglot.dialects.dialect import Dialect as SqlglotDialect
from sqlglot.errors import ParseError
from sqlglot.tokens import Token, TokenType

from airflow_provider_tagoffline.create_table.design import ColumnDesign, TableDesign
from airflow_provider_tagoffline.dialects import Dialect
from airflow_provider_tagoffline.errors import FieldError, ValidationFailed

# sqlglot logs the text it cannot read at WARNING ("Falling back to parsing as a 'Command'"): a user's
# refused edit is answered to the user, not written to the API server's log.
logging.getLogger("sqlglot").setLevel(logging.ERROR)

MAX_STATEMENT_CHARS = 100_000
MAX_COMMENT_CHARS = 1000
#: MySQL collation names: letters, digits and ``_`` (rendered without quotes)
_COLLATION_RE = re.compile(r"^[A-Za-z0-9_]{1,64}$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


class Refused(Exception):
    """One construct of one statement that is not allowed (becomes a FieldError)."""


@dataclass
class _Draft:
    """What the statements said so far."""

    create: TableDesign | None = None
    table_comment: str | None = None
    column_comments: dict[str, str] = field(default_factory=dict)


def parse_edited(statements: list[str], dialect: Dialect, *, schema: str | None, table: str,
                 partition_column: str | None) -> TableDesign:
    """The design the edited ``statements`` describe; ``ValidationFailed`` naming each refusal.

    ``schema``/``table`` are the service's target and ``partition_column`` its date partition
    column (``None``: not partitioned). An item may hold several statements (the text of the web
    view's editor); each is checked on its own.
    """
    if not statements:
        raise ValidationFailed.one("statements", "give at least one statement")
    reader = _Reader(dialect, schema, table, partition_column)
    errors: list[FieldError] = []
    draft = _Draft()
    for i, text in enumerate(statements):
        where = f"statements[{i}]"
        try:
            chunks = reader.split(text)
        except Refused as exc:
            errors.append(FieldError(where, str(exc)))
            continue
        if not chunks:
            errors.append(FieldError(where, "is empty"))
        for n, chunk in enumerate(chunks):
            label = where if len(chunks) == 1 else f"{where} (statement {n + 1})"
            try:
                reader.read(chunk, text, draft)
            except Refused as exc:
                errors.append(FieldError(label, str(exc)))
    if not errors and draft.create is None:
        errors.append(FieldError("statements", f"no CREATE TABLE of the target table {table!r}"))
    if errors:
        raise ValidationFailed(errors)
    assert draft.create is not None
    return reader.with_comments(draft)


class _Reader:
    def __init__(self, dialect: Dialect, schema: str | None, table: str, partition_column: str | None):
        self.d = dialect
        self.sg = SqlglotDialect.get_or_raise(dialect.sqlglot_dialect)
        self.schema, self.table, self.partition_column = schema, table, partition_column

    # ---- statements ------------------------------------------------------------------------
    def split(self, text: Any) -> list[list[Token]]:
        """The token lists of the statements in ``text`` (comment-only pieces dropped)."""
        if not isinstance(text, str):
            raise Refused("must be a string")
        if len(text) > MAX_STATEMENT_CHARS:
            raise Refused(f"is {len(text)} characters long; at most {MAX_STATEMENT_CHARS}")
        if "\x00" in text:
            raise Refused("must not contain a NUL character")
        try:
            tokens = self.sg.tokenize(text)
        except Exception as exc:  # TokenError, or a bug of the tokenizer on odd input: either way unread
            raise Refused(f"cannot be read as {self.d.kind} SQL: {_first(exc)}") from None
        chunks: list[list[Token]] = [[]]
        for tok in tokens:
            if tok.token_type == TokenType.SEMICOLON:
                chunks.append([])
            else:
                chunks[-1].append(tok)
        return [c for c in chunks if c]

    def read(self, tokens: list[Token], text: str, draft: _Draft) -> None:
        head, tail = _split_partition(tokens)
        try:
            parsed = self.sg.parser(error_level=ErrorLevel.RAISE).parse(head, text)
        except ParseError as exc:
            raise Refused(f"cannot be parsed as {self.d.kind} SQL: {_first(exc)}") from None
        except Exception:  # sqlglot failing on odd input (the fuzz found a TypeError): refused, not a 500
            raise Refused(f"cannot be parsed as {self.d.kind} SQL") from None
        statements = [p for p in parsed if p is not None]
        if len(statements) != 1:
            raise Refused(f"holds {len(statements)} statements; give one per item")
        stmt = statements[0]
        if isinstance(stmt, exp.Create):
            if draft.create is not None:
                raise Refused("a second CREATE TABLE is not allowed: create the one target table")
            draft.create = self.create(stmt, tail)
            return
        if tail:
            raise Refused("PARTITION BY belongs to the CREATE TABLE statement")
        if isinstance(stmt, exp.Comment) and self.d.ddl_comment_on:
            self.comment(stmt, draft)
            return
        allowed = f"only one CREATE TABLE of the target {self.table!r}" + (
            " and COMMENT ON it" if self.d.ddl_comment_on else "")
        if isinstance(stmt, exp.Command) and str(stmt.this).upper() == "CREATE":
            raise Refused(f"this CREATE has clauses that are not allowed ({allowed}, with column definitions, NOT "
                          "NULL, PRIMARY KEY, comments and the partition clause)")
        raise Refused(f"{_statement_name(stmt)} is not allowed: {allowed}")

    # ---- CREATE TABLE ---------------------------------------------------------------------------
    def create(self, stmt: exp.Create, tail: list[Token]) -> TableDesign:
        kind = str(stmt.args.get("kind") or "").upper()
        if kind != "TABLE":
            raise Refused(f"CREATE {kind or stmt.sql()[:20]} is not allowed: only CREATE TABLE")
        if stmt.args.get("expression") is not None:
            raise Refused("CREATE TABLE ... AS SELECT is not allowed: give column definitions")
        for flag, words in (("replace", "CREATE OR REPLACE"), ("exists", "IF NOT EXISTS"), ("unique", "UNIQUE"),
                            ("refresh", "REFRESH"), ("concurrently", "CONCURRENTLY"), ("clone", "CLONE"),
                            ("indexes", "indexes"), ("no_schema_binding", "WITH NO SCHEMA BINDING"),
                            ("begin", "BEGIN"), ("end", "END")):
            if stmt.args.get(flag):
                raise Refused(f"{words} is not allowed in the CREATE TABLE")
        unknown = sorted(k for k, v in stmt.args.items() if v not in (None, False, [])
                         and k not in ("this", "kind", "properties", "replace", "exists", "unique", "refresh",
                                       "concurrently"))
        if unknown:
            raise Refused(f"{', '.join(unknown)} is not allowed in the CREATE TABLE")
        schema_node = stmt.this
        if not isinstance(schema_node, exp.Schema):
            raise Refused("CREATE TABLE needs column definitions (LIKE, AS and CLONE are not allowed)")
        self.target(schema_node.this)
        options = self.table_options(stmt.args.get("properties"))

        columns: list[ColumnDesign] = []
        pk: tuple[str, ...] = ()
        pk_name: str | None = None
        for item in schema_node.expressions:
            if isinstance(item, exp.ColumnDef):
                column, inline_pk = self.column(item)
                if any(self.d.same_identifier(c.name, column.name) for c in columns):
                    raise Refused(f"column {column.name!r} is defined twice")
                columns.append(column)
                if inline_pk:
                    if pk:
                        raise Refused("the table has more than one PRIMARY KEY")
                    pk = (column.name,)
                continue
            if isinstance(item, exp.Identifier):  # SQLite allows a column without a type
                raise Refused(f"column {item.name!r} needs a type")
            constraint_name = None
            if isinstance(item, exp.Constraint) and len(item.expressions) == 1:
                constraint_name = self.name(item.this, "constraint")
                item = item.expressions[0]
            if isinstance(item, exp.PrimaryKey) and not _extra_args(item, {"expressions", "include"}):
                if pk:
                    raise Refused("the table has more than one PRIMARY KEY")
                pk = tuple(self.key_column(e) for e in item.expressions)
                pk_name = constraint_name
                continue
            raise Refused(f"{_construct_name(item)} is not allowed in the table: only columns and its PRIMARY KEY")
        if not columns:
            raise Refused("CREATE TABLE needs at least one column")
        for name in pk:
            if not any(self.d.same_identifier(c.name, name) for c in columns):
                raise Refused(f"PRIMARY KEY names column {name!r}, which the table does not define")
        partition = self.partition(tail)
        if self.partition_column is not None:
            if not any(self.d.same_identifier(c.name, self.partition_column) for c in columns):
                raise Refused(f"must define the date partition column {self.partition_column!r} the service "
                              "writes into")
            if self.d.ddl_partition_clause and partition is None:
                raise Refused(f"the service writes date partitions into column {self.partition_column!r}: keep "
                              f"the clause {self._canonical_partition()}")
        # The service's own names are what runs: an edit may not point elsewhere (checked in target()).
        return TableDesign(schema=self.schema, table=self.table, columns=tuple(columns), primary_key=pk,
                           primary_key_name=pk_name, comment=options.get("comment"),
                           partition_column=self.partition_column, charset=options.get("charset"),
                           collation=options.get("collation"))

    def target(self, node: Any) -> None:
        """The statement's table must be the service's target, as the database resolves names."""
        if not isinstance(node, exp.Table) or not isinstance(node.this, exp.Identifier):
            raise Refused("the CREATE TABLE must name the target table")
        if node.args.get("catalog") is not None:
            raise Refused("a database-qualified name (catalog.schema.table) is not allowed")
        name = self._resolved(node.this)
        shown = node.sql(dialect=self.sg)
        if not self.d.same_identifier(name, self.table):
            raise Refused(f"creates table {shown}, not the service's target table {self.table!r}")
        db = node.args.get("db")
        if db is not None:
            given = self._resolved(db)
            if self.schema is None:
                raise Refused(f"names schema {given!r}, but the service's target has no schema: write the table "
                              "name alone, or set the service's schema")
            if not self.d.same_identifier(given, self.schema):
                raise Refused(f"creates table {shown} in schema {given!r}, not the target's schema {self.schema!r}")

    def column(self, node: exp.ColumnDef) -> tuple[ColumnDesign, bool]:
        name = self.name(node.this, "column")
        where = f"column {name!r}"
        extra = _extra_args(node, {"this", "kind", "constraints"})
        if extra:
            raise Refused(f"{where}: {', '.join(extra)} is not allowed")
        type_sql = self.column_type(node.args.get("kind"), where)
        not_null, primary, comment, collation = False, False, None, None
        for c in node.constraints:
            kind = c.args.get("kind") if isinstance(c, exp.ColumnConstraint) else c
            if isinstance(kind, exp.NotNullColumnConstraint) and not _extra_args(kind, {"allow_null"}):
                not_null = not kind.args.get("allow_null")
            elif isinstance(kind, exp.PrimaryKeyColumnConstraint) and not _extra_args(kind, set()):
                primary = not_null = True
            elif isinstance(kind, exp.CommentColumnConstraint) and self.d.ddl_inline_comments:
                comment = self.text(kind.this, f"{where}: COMMENT")
            elif (isinstance(kind, exp.CollateColumnConstraint) and self.d.ddl_engine
                  and isinstance(kind.this, exp.Identifier | exp.Var | exp.Column)):
                collation = kind.this.name
                if not _COLLATION_RE.match(collation):
                    raise Refused(f"{where}: collation {collation!r} is not a collation name")
            else:
                raise Refused(f"{where}: {_construct_name(kind)} is not allowed (columns take a type, NOT NULL, "
                              "PRIMARY KEY and a comment)")
        return ColumnDesign(name, type_sql, not_null, comment, collation), primary

    def column_type(self, node: Any, where: str) -> str:
        if not isinstance(node, exp.DataType):
            raise Refused(f"{where}: needs a type")
        dtype = node.this.name if hasattr(node.this, "name") else str(node.this)
        allowed = self.d.ddl_types.get(dtype)
        if allowed is None or _extra_args(node, {"this", "expressions", "nested"}) or node.args.get("nested"):
            names = sorted({t.spelling for t in self.d.ddl_types.values()})
            raise Refused(f"{where}: type {node.sql(dialect=self.sg)} is not allowed on {self.d.kind} (allowed: "
                          f"{', '.join(names)})")
        params: list[int] = []
        semantics: str | None = None
        for p in node.expressions:
            value = p.this if isinstance(p, exp.DataTypeParam) else p
            if not (isinstance(value, exp.Literal) and not value.is_string and value.this.isdigit()):
                raise Refused(f"{where}: type parameter {p.sql(dialect=self.sg)} is not a whole number")
            params.append(int(value.this))
            unit = p.args.get("expression") if isinstance(p, exp.DataTypeParam) else None
            if unit is not None:
                word = unit.name.upper() if isinstance(unit, exp.Var | exp.Identifier) else ""
                if not allowed.length_semantics or word not in ("CHAR", "BYTE") or len(params) != 1:
                    raise Refused(f"{where}: {p.sql(dialect=self.sg)} is not a length")
                semantics = word
        if len(params) > len(allowed.limits) or len(params) < allowed.required:
            want = (f"{allowed.required} to {len(allowed.limits)}" if allowed.required != len(allowed.limits)
                    else str(len(allowed.limits)))
            raise Refused(f"{where}: {allowed.spelling} takes {want} parameter(s), not {len(params)}")
        for n, (value, limit) in enumerate(zip(params, allowed.limits, strict=False)):
            low = 0 if n == 1 else 1  # a scale may be 0; lengths and precisions may not
            if not low <= value <= limit:
                raise Refused(f"{where}: {allowed.spelling} parameter {value} is outside {low}..{limit}")
        if len(params) == 2 and params[1] > params[0]:
            raise Refused(f"{where}: scale {params[1]} is larger than precision {params[0]}")
        return allowed.render(tuple(params), semantics)

    def key_column(self, node: Any) -> str:
        if isinstance(node, exp.Ordered) and not _extra_args(node, {"this", "desc", "nulls_first"}) \
                and not node.args.get("desc"):
            node = node.this
        if isinstance(node, exp.Column) and not node.table:
            node = node.this
        if not isinstance(node, exp.Identifier):
            raise Refused(f"PRIMARY KEY part {node.sql(dialect=self.sg)} is not a column name")
        return self.name(node, "PRIMARY KEY column")

    def table_options(self, props: Any) -> dict[str, str]:
        """MySQL's ENGINE / CHARSET / COLLATE / COMMENT; no other family takes table options here."""
        out: dict[str, str] = {}
        for p in (props.expressions if props is not None else []):
            if isinstance(p, exp.SchemaCommentProperty) and (self.d.ddl_inline_comments or self.d.ddl_comment_on):
                out["comment"] = self.text(p.this, "the table COMMENT")
            elif isinstance(p, exp.EngineProperty) and self.d.ddl_engine:
                if p.name.lower() != self.d.ddl_engine.lower():
                    raise Refused(f"ENGINE={p.name} is not allowed: tables are created as ENGINE={self.d.ddl_engine}")
            elif isinstance(p, exp.CharacterSetProperty) and self.d.ddl_engine:
                if p.name.lower() not in self.d.ddl_charsets:
                    raise Refused(f"CHARSET={p.name} is not allowed (allowed: {', '.join(self.d.ddl_charsets)})")
                out["charset"] = p.name.lower()
            elif isinstance(p, exp.CollateProperty) and self.d.ddl_engine:
                if not _COLLATION_RE.match(p.name):
                    raise Refused(f"COLLATE={p.name} is not a collation name")
                out["collation"] = p.name
            else:
                raise Refused(f"{_shown(p.sql(dialect=self.sg))} is not allowed in the CREATE TABLE")
        return out

    # ---- PARTITION BY ---------------------------------------------------------------------------
    def partition(self, tail: list[Token]) -> str | None:
        """The partition column of ``PARTITION BY LIST [COLUMNS] (col) [AUTOMATIC] [(PARTITION p
        VALUES [IN] ('...'))]``; its first partition is rendered by us, whatever the edit said."""
        if not tail:
            return None
        if self.partition_column is None:
            raise Refused("PARTITION BY is not allowed: the service's target is not partitioned")
        if not self.d.ddl_partition_clause:
            raise Refused(f"PARTITION BY is not allowed on {self.d.kind}: the date column is part of the key")
        toks = _Tokens(tail)
        ok = toks.words("PARTITION", "BY") and toks.word("LIST")
        toks.word("COLUMNS")
        column_token = toks.identifier() if ok and toks.kind(TokenType.L_PAREN) else None
        ok = column_token is not None and toks.kind(TokenType.R_PAREN)
        toks.word("AUTOMATIC")
        if ok and toks.kind(TokenType.L_PAREN):
            ok = (toks.word("PARTITION") and toks.identifier() is not None and toks.word("VALUES")
                  and (toks.word("IN") or True) and toks.kind(TokenType.L_PAREN) and toks.kind(TokenType.STRING)
                  and toks.kind(TokenType.R_PAREN) and toks.kind(TokenType.R_PAREN))
        if not ok or not toks.done():
            raise Refused(f"the partition clause must read {self._canonical_partition()}")
        assert column_token is not None
        name = self._token_name(column_token)
        if not self.d.same_identifier(name, self.partition_column):
            raise Refused(f"partitions by {name!r}, but the service's date partition column is "
                          f"{self.partition_column!r}")
        return name

    def _canonical_partition(self) -> str:
        return self.d.ddl_partition_clause.format(col=self.d.quote(self.partition_column or "ds"),
                                                  first="'19700101'")

    def _token_name(self, tok: Token) -> str:
        return tok.text if tok.token_type == TokenType.IDENTIFIER else self.d.fold_unquoted(tok.text)

    # ---- COMMENT ON -----------------------------------------------------------------------------
    def comment(self, stmt: exp.Comment, draft: _Draft) -> None:
        kind = str(stmt.args.get("kind") or "").upper()
        if _extra_args(stmt, {"this", "kind", "expression", "exists", "materialized"}) or stmt.args.get("exists") \
                or stmt.args.get("materialized"):
            raise Refused("only COMMENT ON TABLE and COMMENT ON COLUMN of the target are allowed")
        text = self.text(stmt.expression, f"COMMENT ON {kind}")
        if kind == "TABLE":
            self.target(stmt.this)
            draft.table_comment = text
        elif kind == "COLUMN" and isinstance(stmt.this, exp.Column):
            col = stmt.this
            table = exp.Table(this=col.args.get("table"), db=col.args.get("db"), catalog=col.args.get("catalog"))
            self.target(table)
            draft.column_comments[self.name(col.this, "column")] = text
        else:
            raise Refused(f"COMMENT ON {kind or '?'} is not allowed: only COMMENT ON TABLE and COMMENT ON COLUMN "
                          "of the target")

    def with_comments(self, draft: _Draft) -> TableDesign:
        design = draft.create
        assert design is not None
        columns = list(design.columns)
        for name, text in draft.column_comments.items():
            at = next((i for i, c in enumerate(columns) if self.d.same_identifier(c.name, name)), None)
            if at is None:
                raise ValidationFailed.one("statements", f"COMMENT ON COLUMN names column {name!r}, which the "
                                                         "CREATE TABLE does not define")
            columns[at] = replace(columns[at], comment=text)
        comment = draft.table_comment if draft.table_comment is not None else design.comment
        return replace(design, columns=tuple(columns), comment=comment)

    # ---- names and texts ------------------------------------------------------------------------
    def name(self, node: Any, what: str) -> str:
        if not isinstance(node, exp.Identifier):
            raise Refused(f"the {what} name {node.sql(dialect=self.sg) if node is not None else ''} is not a name")
        name = self._resolved(node)
        problem = self.d.identifier_problem(name) or (
            "must not contain control characters" if _CONTROL_RE.search(name) else None)
        if problem:
            raise Refused(f"{what} name {name!r} {problem}")
        return name

    def _resolved(self, node: Any) -> str:
        text = node.name if isinstance(node, exp.Identifier) else str(node)
        return text if isinstance(node, exp.Identifier) and node.quoted else self.d.fold_unquoted(text)

    def text(self, node: Any, what: str) -> str:
        if not (isinstance(node, exp.Literal) and node.is_string):
            raise Refused(f"{what} must be a string literal")
        value = node.this
        if len(value) > MAX_COMMENT_CHARS:
            raise Refused(f"{what} is {len(value)} characters long; at most {MAX_COMMENT_CHARS}")
        if "\x00" in value:
            raise Refused(f"{what} must not contain a NUL character")
        return str(value)


class _Tokens:
    """A cursor over the tokens of a partition clause (keywords compared by their text)."""

    def __init__(self, tokens: list[Token]):
        self.tokens, self.at = tokens, 0

    def _peek(self) -> Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def word(self, word: str) -> bool:
        tok = self._peek()
        if tok is not None and tok.token_type not in (TokenType.IDENTIFIER, TokenType.STRING) \
                and tok.text.upper() == word:
            self.at += 1
            return True
        return False

    def words(self, *words: str) -> bool:
        tok = self._peek()
        if tok is not None and tok.token_type == TokenType.PARTITION_BY and words == ("PARTITION", "BY"):
            self.at += 1
            return True
        return all(self.word(w) for w in words)

    def kind(self, token_type: TokenType) -> bool:
        tok = self._peek()
        if tok is not None and tok.token_type == token_type:
            self.at += 1
            return True
        return False

    def identifier(self) -> Token | None:
        tok = self._peek()
        if tok is not None and (tok.token_type in (TokenType.IDENTIFIER, TokenType.VAR)):
            self.at += 1
            return tok
        return None

    def done(self) -> bool:
        return self.at == len(self.tokens)


def _split_partition(tokens: list[Token]) -> tuple[list[Token], list[Token]]:
    """``tokens`` cut before a top-level ``PARTITION BY`` that follows a closed parenthesis."""
    depth, seen_group = 0, False
    for i, tok in enumerate(tokens):
        if tok.token_type == TokenType.L_PAREN:
            depth += 1
        elif tok.token_type == TokenType.R_PAREN:
            depth -= 1
            seen_group = seen_group or depth == 0
        elif depth == 0 and seen_group and (
                tok.token_type == TokenType.PARTITION_BY
                or (tok.text.upper() == "PARTITION" and tok.token_type not in (TokenType.IDENTIFIER, TokenType.STRING)
                    and i + 1 < len(tokens) and tokens[i + 1].text.upper() == "BY")):
            return tokens[:i], tokens[i:]
    return tokens, []


def _extra_args(node: exp.Expr, allowed: set[str]) -> list[str]:
    """Arguments ``node`` carries beyond ``allowed`` (unset, false and empty ones do not count)."""
    return sorted(k for k, v in node.args.items() if k not in allowed and not _empty(v))


def _empty(value: Any) -> bool:
    """Unset, false, an empty list, or a node with nothing set (sqlglot's bare ``IndexParameters``)."""
    if isinstance(value, exp.Expr):
        return all(_empty(v) for v in value.args.values())
    return value in (None, False, [])


def _statement_name(stmt: exp.Expr) -> str:
    if isinstance(stmt, exp.Command):
        return str(stmt.this).upper()
    kind = stmt.args.get("kind")
    words = "COMMENT ON" if isinstance(stmt, exp.Comment) else stmt.key.upper().replace("_", " ")
    return f"{words} {str(kind).upper()}" if isinstance(kind, str) and kind else words


def _construct_name(node: Any) -> str:
    """A readable name of a refused constraint or property (``DEFAULT``, ``CHECK``, ``TABLESPACE``)."""
    if node is None:
        return "this"
    name = type(node).__name__
    for suffix in ("ColumnConstraint", "Property", "Constraint"):
        name = name.removesuffix(suffix)
    words = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).upper()
    return {"COMPUTED": "a generated column", "GENERATED AS IDENTITY": "GENERATED ... AS IDENTITY",
            "REFERENCE": "REFERENCES", "FOREIGN KEY": "FOREIGN KEY", "SCHEMA COMMENT": "COMMENT"}.get(words, words)


def _shown(sql: str, limit: int = 60) -> str:
    """A construct as sqlglot writes it, shortened for a message."""
    flat = " ".join(sql.split())
    return flat if len(flat) <= limit else flat[:limit] + "…"


def _first(exc: Exception) -> str:
    """sqlglot's message without its terminal colouring, first line only."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()
    return (text.splitlines() or [type(exc).__name__])[0][:300]
