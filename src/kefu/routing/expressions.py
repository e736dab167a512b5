"""A small, safe expression language for queue eligibility and workflow conditions.

Examples::

    skills.credit_card >= 3 and region == "shenzhen"
    channel in ["weibo", "wechat"] and (sentiment < -0.3 or crisis)
    "盗刷" in keywords or tier == "private"

Hand-written tokenizer and recursive-descent parser compiled to closures: no ``eval``, no
attribute access on Python objects, only lookups in plain dicts. A missing attribute is
``None``; ordering comparisons involving ``None`` are false, so ``skills.loan >= 1`` is simply
false for an agent without that skill (TaskRouter behaves the same way).

Grammar::

    expr    := and ("or" and)*
    and     := not ("and" not)*
    not     := "not" not | compare
    compare := operand (("=="|"!="|"<"|"<="|">"|">="|"in"|"not in"|"contains") operand)?
    operand := path | string | number | "true" | "false" | "null" | list | "(" expr ")"
    path    := NAME ("." NAME)*
    list    := "[" (operand ("," operand)*)? "]"
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Attributes = Mapping[str, Any]
Evaluator = Callable[[Attributes], Any]

MAX_LENGTH = 2000  # expressions are typed by people; a bound keeps parsing cheap and safe
MAX_DEPTH = 32


class ExpressionError(ValueError):
    """The expression cannot be parsed; ``position`` is the 0-based offset of the problem."""

    def __init__(self, message: str, position: int, source: str) -> None:
        super().__init__(f"{message} at position {position}: {source!r}")
        self.message = message
        self.position = position
        self.source = source


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>-?\d+(?:\.\d+)?)
      | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<op>==|!=|<=|>=|<|>|\(|\)|\[|\]|,|\.)
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "in", "contains", "true", "false", "null"}


@dataclass(frozen=True)
class _Token:
    kind: str  # number, string, op, name, keyword, end
    value: str
    position: int


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(source):
        if source[position:].strip() == "":
            break
        match = _TOKEN.match(source, position)
        if match is None or match.end() == position:
            start = len(source) - len(source[position:].lstrip())
            raise ExpressionError(f"unexpected character {source[start]!r}", start, source)
        kind = match.lastgroup or ""
        value = match.group(kind)
        start = match.start(kind)
        if kind == "name" and value in _KEYWORDS:
            kind = "keyword"
        tokens.append(_Token(kind, value, start))
        position = match.end()
    tokens.append(_Token("end", "", len(source)))
    return tokens


def _unquote(literal: str) -> str:
    body = literal[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


def _ordered(op: str) -> Callable[[Any, Any], bool]:
    def compare(left: Any, right: Any) -> bool:
        if left is None or right is None:
            return False
        try:
            if op == "<":
                return bool(left < right)
            if op == "<=":
                return bool(left <= right)
            if op == ">":
                return bool(left > right)
            return bool(left >= right)
        except TypeError:  # "a" < 3: a mismatch is false, not a crash at routing time
            return False

    return compare


def _member(item: Any, container: Any) -> bool:
    if container is None:
        return False
    if isinstance(container, str):
        return isinstance(item, str) and item in container
    try:
        return item in container
    except TypeError:
        return False


_COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: bool(a == b),
    "!=": lambda a, b: bool(a != b),
    "<": _ordered("<"),
    "<=": _ordered("<="),
    ">": _ordered(">"),
    ">=": _ordered(">="),
    "in": _member,
    "not in": lambda a, b: not _member(a, b),
    "contains": lambda a, b: _member(b, a),
}


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = _tokenize(source)
        self.index = 0
        self.depth = 0
        self.paths: set[str] = set()

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def fail(self, message: str, token: _Token | None = None) -> ExpressionError:
        token = token or self.token
        return ExpressionError(message, token.position, self.source)

    def take(self, kind: str, value: str | None = None) -> _Token | None:
        token = self.token
        if token.kind == kind and (value is None or token.value == value):
            self.index += 1
            return token
        return None

    def expect(self, kind: str, value: str) -> None:
        if self.take(kind, value) is None:
            found = self.token.value or "end of expression"
            raise self.fail(f"expected {value!r}, found {found!r}")

    def parse(self) -> Evaluator:
        if not self.source.strip():
            raise ExpressionError("empty expression", 0, self.source)
        evaluator = self.parse_or()
        if self.token.kind != "end":
            raise self.fail(f"unexpected {self.token.value!r}")
        return evaluator

    def nested(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail("expression nested too deeply")

    def parse_or(self) -> Evaluator:
        parts = [self.parse_and()]
        while self.take("keyword", "or"):
            parts.append(self.parse_and())
        if len(parts) == 1:
            return parts[0]
        return lambda attrs: any(part(attrs) for part in parts)

    def parse_and(self) -> Evaluator:
        parts = [self.parse_not()]
        while self.take("keyword", "and"):
            parts.append(self.parse_not())
        if len(parts) == 1:
            return parts[0]
        return lambda attrs: all(part(attrs) for part in parts)

    def parse_not(self) -> Evaluator:
        if self.take("keyword", "not"):
            self.nested()
            inner = self.parse_not()
            self.depth -= 1
            return lambda attrs: not inner(attrs)
        return self.parse_compare()

    def parse_compare(self) -> Evaluator:
        left = self.parse_operand()
        token = self.token
        op: str | None = None
        comparison = token.kind == "op" and token.value in ("==", "!=", "<", "<=", ">", ">=")
        if comparison or (token.kind == "keyword" and token.value in ("in", "contains")):
            op = token.value
            self.index += 1
        elif token.kind == "keyword" and token.value == "not":
            following = self.tokens[self.index + 1]
            if following.kind == "keyword" and following.value == "in":
                op = "not in"
                self.index += 2
        if op is None:
            return lambda attrs: bool(left(attrs))
        right = self.parse_operand()
        compare = _COMPARATORS[op]
        return lambda attrs: compare(left(attrs), right(attrs))

    def parse_operand(self) -> Evaluator:
        token = self.token
        if token.kind == "number":
            self.index += 1
            number: float | int = float(token.value) if "." in token.value else int(token.value)
            return lambda attrs: number
        if token.kind == "string":
            self.index += 1
            text = _unquote(token.value)
            return lambda attrs: text
        if token.kind == "keyword" and token.value in ("true", "false", "null"):
            self.index += 1
            constant = {"true": True, "false": False, "null": None}[token.value]
            return lambda attrs: constant
        if token.kind == "name":
            return self.parse_path()
        if self.take("op", "("):
            self.nested()
            inner = self.parse_or()
            self.depth -= 1
            self.expect("op", ")")
            return inner
        if self.take("op", "["):
            items: list[Evaluator] = []
            if not self.take("op", "]"):
                items.append(self.parse_operand())
                while self.take("op", ","):
                    items.append(self.parse_operand())
                self.expect("op", "]")
            return lambda attrs: [item(attrs) for item in items]
        found = token.value or "end of expression"
        raise self.fail(f"expected a value or attribute, found {found!r}")

    def parse_path(self) -> Evaluator:
        names = [self.token.value]
        self.index += 1
        while self.take("op", "."):
            token = self.take("name")
            if token is None:
                raise self.fail("expected an attribute name after '.'")
            names.append(token.value)
        self.paths.add(".".join(names))
        if len(names) == 1:
            key = names[0]
            return lambda attrs: attrs.get(key)

        def lookup(attrs: Attributes) -> Any:
            value: Any = attrs
            for name in names:
                if not isinstance(value, Mapping):
                    return None
                value = value.get(name)
            return value

        return lookup


@dataclass(frozen=True)
class Expression:
    """A parsed expression: ``source`` as written, the attribute ``paths`` it reads."""

    source: str
    paths: frozenset[str]
    _evaluate: Evaluator

    def __call__(self, attributes: Attributes) -> bool:
        return bool(self._evaluate(attributes))


def parse(source: str, *, allowed_roots: frozenset[str] | None = None) -> Expression:
    """Parses ``source``; with ``allowed_roots``, an unknown attribute is an error (typos)."""
    if len(source) > MAX_LENGTH:
        raise ExpressionError(f"longer than {MAX_LENGTH} characters", MAX_LENGTH, source[:40])
    parser = _Parser(source)
    evaluator = parser.parse()
    if allowed_roots is not None:
        for path in sorted(parser.paths):
            root = path.split(".", 1)[0]
            if root not in allowed_roots:
                position = source.find(path)
                known = ", ".join(sorted(allowed_roots))
                raise ExpressionError(
                    f"unknown attribute {root!r} (known: {known})", position, source
                )
    return Expression(source, frozenset(parser.paths), evaluator)


ALWAYS = parse("true")
