"""Parse the JQL subset a skill's `jql` may use into a small tree.

    query   := or (OR and)*           and := not (AND not)*
    not     := NOT not | "(" query ")" | clause
    clause  := field ("=" | "!=") value | field [NOT] IN "(" value ("," value)* ")"
             | field IS [NOT] EMPTY      (NULL is a synonym of EMPTY; "= EMPTY" works too)

Keywords are case-insensitive; values are bare words or quoted with ' or ". Anything else
(other operators, functions, ORDER BY, unknown fields) is a JqlError naming what it found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<op>!=|!~|>=|<=|=|~|>|<|\(|\)|,)
    | (?P<word>[^\s"'=!~<>(),]+)
    )""",
    re.VERBOSE,
)
UNSUPPORTED_OPS = {"~", "!~", ">", ">=", "<", "<=", "was", "changed"}


class JqlError(ValueError):
    """The text is not in the JQL subset skillrelay evaluates on synced ticket fields."""


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # string | op | word | end
    text: str
    at: int

    @property
    def keyword(self) -> str:
        return self.text.lower() if self.kind == "word" else ""


@dataclass(frozen=True, slots=True)
class Clause:
    field: str  # as written
    op: str  # = != in "not in" empty "not empty"
    values: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Not:
    inner: Node


@dataclass(frozen=True, slots=True)
class BoolOp:
    op: str  # and | or
    parts: tuple[Node, ...]


Node = Clause | Not | BoolOp


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return [*tokens, Token("end", "", pos)]
        found = TOKEN.match(text, pos)
        if found is None or found.lastgroup is None:
            raise JqlError(f"unexpected character {text[pos]!r} at position {pos + 1}")
        kind = found.lastgroup
        raw = found.group(kind)
        if kind == "string":
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        tokens.append(Token(kind, raw, found.start(kind)))
        pos = found.end()


class Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0

    def parse(self) -> Node:
        node = self._or()
        token = self._peek()
        if token.keyword == "order":
            raise JqlError("ORDER BY is not supported in a skill's jql")
        if token.kind != "end":
            raise JqlError(f"unexpected {token.text!r} at position {token.at + 1}")
        return node

    def _peek(self) -> Token:
        return self.tokens[self.i]

    def _next(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def _accept(self, keyword: str) -> bool:
        token = self._peek()
        if token.keyword == keyword or (token.kind == "op" and token.text == keyword):
            self.i += 1
            return True
        return False

    def _expect(self, text: str, after: str) -> None:
        if not self._accept(text):
            token = self._peek()
            found = repr(token.text) if token.kind != "end" else "the end"
            raise JqlError(f"expected {text!r} {after}, found {found}")

    def _or(self) -> Node:
        parts = [self._and()]
        while self._accept("or"):
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else BoolOp("or", tuple(parts))

    def _and(self) -> Node:
        parts = [self._not()]
        while self._accept("and"):
            parts.append(self._not())
        return parts[0] if len(parts) == 1 else BoolOp("and", tuple(parts))

    def _not(self) -> Node:
        if self._accept("not"):
            return Not(self._not())
        if self._accept("("):
            node = self._or()
            self._expect(")", "to close '('")
            return node
        return self._clause()

    def _clause(self) -> Clause:
        token = self._next()
        if token.kind not in ("word", "string"):
            found = repr(token.text) if token.kind != "end" else "the end"
            raise JqlError(f"expected a field name, found {found}")
        name = token.text
        op = self._next()
        word = op.keyword or op.text
        if word in UNSUPPORTED_OPS:
            raise JqlError(f"operator {op.text!r} is not supported (use =, !=, in, not in, is)")
        if word in ("=", "!="):
            value = self._value()
            if value.lower() in ("empty", "null"):
                return Clause(name, "empty" if word == "=" else "not empty")
            return Clause(name, word, (value,))
        if word == "is":
            negate = self._accept("not")
            empty = self._next()
            if empty.keyword not in ("empty", "null"):
                raise JqlError(f"expected EMPTY after IS, found {empty.text!r}")
            return Clause(name, "not empty" if negate else "empty")
        if word == "not" and self._accept("in"):
            return Clause(name, "not in", self._list())
        if word == "in":
            return Clause(name, "in", self._list())
        found = repr(op.text) if op.kind != "end" else "the end"
        raise JqlError(f"expected an operator after {name!r}, found {found}")

    def _value(self) -> str:
        token = self._next()
        if token.kind not in ("word", "string"):
            found = repr(token.text) if token.kind != "end" else "the end"
            raise JqlError(f"expected a value, found {found}")
        if token.kind == "word" and self._peek().text == "(":
            raise JqlError(f"functions such as {token.text}() are not supported")
        return token.text

    def _list(self) -> tuple[str, ...]:
        self._expect("(", "to start a list")
        values = [self._value()]
        while self._accept(","):
            values.append(self._value())
        self._expect(")", "to close the list")
        return tuple(values)


def parse(text: str) -> Node:
    return Parser(text).parse()
