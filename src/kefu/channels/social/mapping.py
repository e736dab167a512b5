"""Mapping files: how one platform's webhook JSON becomes social posts.

A mapping file is JSON (examples in ``mappings/``; format in docs/channels/social.md)::

    {"name": "douyin", "platform": "douyin",
     "items": "$.events[*]",                       # optional: several posts in one request
     "kind": {"path": "$.event", "values": {"comment.create": "comment", "im": "dm"}},
     "fields": {"external_id": "$.comment.id", "text": "$.comment.content",
                "author.uid": "$.user.open_id", "posted_at": "$.create_time", ...}}

Paths are JSONPath (jsonpath-ng), relative to each item when ``items`` is given. Required
fields: ``external_id``, ``text``, ``author.uid`` and a kind (``"kind": "comment"`` for a
source that sends one kind, or a path and the platform's values for each kind). A field whose
path finds nothing is an error naming the mapping, the field and the path — unless the field is
optional (its default applies). Times are ISO 8601 with a zone, or Unix seconds/milliseconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from jsonpath_ng import JSONPath
from jsonpath_ng.exceptions import JsonPathParserError
from jsonpath_ng.ext import parse

KINDS = ("mention", "comment", "dm", "listening")
REQUIRED = ("external_id", "text", "author.uid")
OPTIONAL = ("author.name", "author.followers", "author.verified_type", "posted_at", "url",
            "parent_external_id", "reposts", "comments", "likes", "deleted")  # fmt: skip
NUMBERS = ("author.followers", "author.verified_type", "reposts", "comments", "likes")
MAX_TEXT = 10_000  # characters of one post kept (a forum thread can be long; Weibo: 2,000)


class MappingError(ValueError):
    """The mapping file is wrong, or a request does not match it (the message names the
    mapping, the field and the path)."""


@dataclass(frozen=True)
class Mapping:
    name: str
    platform: str
    fields: dict[str, tuple[str, JSONPath]]  # field → (path as written, compiled)
    items: tuple[str, JSONPath] | None = None
    kind: str | None = None  # one kind for every post
    kind_path: tuple[str, JSONPath] | None = None
    kind_values: dict[str, str] = field(default_factory=dict)  # platform's value → kind

    def posts(self, document: Any) -> list[dict[str, Any]]:
        """The posts of one request, each a dict of the fields (``author`` nested); raises
        MappingError naming the first field that does not match."""
        if self.items is None:
            return [self._post(document, "")]
        written, path = self.items
        found = [m.value for m in path.find(document)]
        if not found:
            raise MappingError(f"mapping {self.name!r}: items (path {written}) found nothing")
        return [self._post(item, f"item {n}: ") for n, item in enumerate(found)]

    def _value(self, item: Any, name: str, where: str) -> Any:
        written, path = self.fields[name]
        found = path.find(item)
        if not found or found[0].value is None:
            raise MappingError(
                f"mapping {self.name!r}: {where}field {name!r} (path {written}) missing"
            )
        return found[0].value

    def _post(self, item: Any, where: str) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in self.fields:
            try:
                raw = self._value(item, name, where)
            except MappingError:
                if name in REQUIRED:
                    raise
                continue
            values[name] = self._convert(name, raw, where)
        post: dict[str, Any] = {"platform": self.platform, "kind": self._kind(item, where)}
        author: dict[str, Any] = {}
        for name, value in values.items():
            if name.startswith("author."):
                author[name.removeprefix("author.")] = value
            else:
                post[name] = value
        post["author"] = author
        return post

    def _convert(self, name: str, raw: Any, where: str) -> Any:
        written = self.fields[name][0]
        bad = f"mapping {self.name!r}: {where}field {name!r} (path {written})"
        if name in NUMBERS:
            if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
                raise MappingError(f"{bad} is not a number: {raw!r}"[:300])
            try:
                return int(float(raw))
            except (ValueError, OverflowError):  # "many", "nan", "1e400"
                raise MappingError(f"{bad} is not a number: {raw!r}"[:300]) from None
        if name == "posted_at":
            return _time(raw, bad).isoformat()
        if name == "deleted":
            return raw in (True, 1, "1", "true", "deleted")
        if isinstance(raw, (dict, list)):
            raise MappingError(f"{bad} is an object or list, not text")
        text = str(raw)
        if name in ("external_id", "author.uid") and not text.strip():
            raise MappingError(f"{bad} is empty")
        return text[:MAX_TEXT] if name == "text" else text[:500]

    def _kind(self, item: Any, where: str) -> str:
        if self.kind is not None:
            return self.kind
        assert self.kind_path is not None
        written, path = self.kind_path
        found = path.find(item)
        if not found:
            raise MappingError(
                f"mapping {self.name!r}: {where}field 'kind' (path {written}) missing"
            )
        value = str(found[0].value)
        if value not in self.kind_values:
            known = ", ".join(sorted(self.kind_values))
            raise MappingError(
                f"mapping {self.name!r}: {where}field 'kind' (path {written}) is {value!r}, "
                f"not one of {known}"[:400]
            )
        return self.kind_values[value]


def _time(raw: Any, bad: str) -> datetime:
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        seconds = raw / 1000 if raw > 10**11 else raw  # milliseconds from most platforms' SDKs
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise MappingError(f"{bad} is not a time: {raw!r}") from None
    if isinstance(raw, str):
        if raw.strip().isdigit():
            return _time(int(raw.strip()), bad)
        try:
            parsed = datetime.fromisoformat(raw.strip())
        except ValueError:
            raise MappingError(f"{bad} is not an ISO 8601 time: {raw!r}"[:300]) from None
        if parsed.tzinfo is None:
            raise MappingError(f"{bad} has no time zone: {raw!r}"[:300])
        return parsed.astimezone(UTC)
    raise MappingError(f"{bad} is not a time: {raw!r}"[:300])


def _path(name: str, field_name: str, written: Any) -> tuple[str, JSONPath]:
    if not isinstance(written, str) or not written.strip():
        raise MappingError(f"mapping {name!r}: field {field_name!r} needs a JSON path")
    try:
        return written, parse(written)
    except (JsonPathParserError, Exception) as exc:  # noqa: BLE001 - its lexer raises plain Exception
        raise MappingError(
            f"mapping {name!r}: field {field_name!r} (path {written}) is not JSONPath: {exc}"
        ) from None


def parse_mapping(document: Any, *, origin: str = "mapping") -> Mapping:
    """A mapping from its JSON document; MappingError naming what is wrong."""
    if not isinstance(document, dict):
        raise MappingError(f"{origin}: a mapping is a JSON object")
    name = document.get("name")
    if not isinstance(name, str) or not name:
        raise MappingError(f"{origin}: 'name' is missing")
    platform = document.get("platform", name)
    if not isinstance(platform, str) or not platform.replace("_", "").replace("-", "").isalnum():
        raise MappingError(f"mapping {name!r}: 'platform' must be a short name like douyin")
    fields = document.get("fields")
    if not isinstance(fields, dict):
        raise MappingError(f"mapping {name!r}: 'fields' (field → JSON path) is missing")
    unknown = sorted(set(fields) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise MappingError(f"mapping {name!r}: unknown field {unknown[0]!r}")
    for required in REQUIRED:
        if required not in fields:
            raise MappingError(f"mapping {name!r}: field {required!r} has no path")
    compiled = {f: _path(name, f, p) for f, p in fields.items()}
    items = _path(name, "items", document["items"]) if "items" in document else None
    kind = document.get("kind")
    if isinstance(kind, str):
        if kind not in KINDS:
            raise MappingError(f"mapping {name!r}: kind {kind!r} is not one of {', '.join(KINDS)}")
        return Mapping(name, platform.lower(), compiled, items, kind=kind)
    if not isinstance(kind, dict) or "path" not in kind or not isinstance(kind.get("values"), dict):
        raise MappingError(
            f"mapping {name!r}: 'kind' is one kind (\"comment\") or "
            '{"path": …, "values": {platform value: kind}}'
        )
    values = {str(k): v for k, v in kind["values"].items()}
    for value, mapped in values.items():
        if mapped not in KINDS:
            raise MappingError(f"mapping {name!r}: kind value {value!r} maps to {mapped!r}, "
                               f"not one of {', '.join(KINDS)}")  # fmt: skip
    return Mapping(name, platform.lower(), compiled, items,
                   kind_path=_path(name, "kind", kind["path"]), kind_values=values)  # fmt: skip


@cache
def load_mapping(path: str) -> Mapping:
    """The mapping in file ``path`` (read once per process)."""
    file = Path(path)
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MappingError(f"mapping file {path} does not exist") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise MappingError(f"mapping file {path} is not JSON: {exc}") from None
    return parse_mapping(document, origin=str(file))


EXAMPLES = Path(__file__).parent / "mappings"
