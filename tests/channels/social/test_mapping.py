"""Mapping files: the bundled examples map their samples; every mismatch names the mapping,
the field and the path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kefu.channels.social.mapping import EXAMPLES, MappingError, load_mapping, parse_mapping

SAMPLES = EXAMPLES.parent / "samples"


def sample(name: str) -> Any:
    return json.loads((SAMPLES / f"{name}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", ["douyin", "xiaohongshu", "forum", "appstore"])
def test_every_bundled_mapping_maps_its_sample(name: str) -> None:
    posts = load_mapping(str(EXAMPLES / f"{name}.json")).posts(sample(name))
    assert posts and all(p["platform"] == name for p in posts)
    for post in posts:
        assert post["external_id"] and post["text"] and post["author"]["uid"]
        assert post["kind"] in ("mention", "comment", "dm")
        assert post["posted_at"].endswith("+00:00")


def test_values_are_converted() -> None:
    [first, second] = load_mapping(str(EXAMPLES / "xiaohongshu.json")).posts(sample("xiaohongshu"))
    assert (first["likes"], first["comments"], first["reposts"]) == (46, 9, 2)  # "46" → 46
    assert first["posted_at"] == "2025-11-30T02:00:00+00:00"  # Unix milliseconds
    assert second["author"] == {"uid": "5f00aa12", "name": "Lily", "followers": 120000}
    [forum] = load_mapping(str(EXAMPLES / "forum.json")).posts(sample("forum"))
    assert forum["posted_at"] == "2026-11-30T02:00:00+00:00"  # ISO 8601 with +08:00
    assert forum["external_id"] == "98231" and forum["deleted"] is False


def test_the_kind_comes_from_the_platforms_event_name() -> None:
    douyin = load_mapping(str(EXAMPLES / "douyin.json"))
    assert douyin.posts({**sample("douyin"), "event": "im_receive_msg"})[0]["kind"] == "dm"
    with pytest.raises(MappingError, match=r"field 'kind' \(path \$.event\) is 'item_like'"):
        douyin.posts({**sample("douyin"), "event": "item_like"})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("user"),
         r"mapping 'douyin': field 'author.uid' \(path \$.user.open_id\) missing"),
        (lambda d: d["content"].pop("text"),
         r"mapping 'douyin': field 'text' \(path \$.content.text\) missing"),
        (lambda d: d["user"].update(follower_count="many"),
         r"field 'author.followers' \(path \$.user.follower_count\) is not a number"),
        (lambda d: d["user"].update(follower_count="1e400"),
         r"field 'author.followers' \(path \$.user.follower_count\) is not a number"),
        (lambda d: d.update(create_time="yesterday"),
         r"field 'posted_at' \(path \$.create_time\) is not an ISO 8601 time"),
        (lambda d: d["content"].update(text={"rich": 1}),
         r"field 'text' \(path \$.content.text\) is an object or list"),
        (lambda d: d["user"].update(open_id=" "), r"field 'author.uid' .* is empty"),
    ],
)  # fmt: skip
def test_a_request_that_does_not_match_names_the_field(change: Any, message: str) -> None:
    document = sample("douyin")
    change(document)
    with pytest.raises(MappingError, match=message):
        load_mapping(str(EXAMPLES / "douyin.json")).posts(document)


def test_optional_fields_may_be_absent() -> None:
    document = sample("douyin")
    del document["content"]["share_url"], document["user"]["nickname"]
    [post] = load_mapping(str(EXAMPLES / "douyin.json")).posts(document)
    assert "url" not in post and "name" not in post["author"]


def test_items_that_find_nothing_and_item_numbers_in_errors() -> None:
    xhs = load_mapping(str(EXAMPLES / "xiaohongshu.json"))
    with pytest.raises(MappingError, match=r"items \(path \$.notes\[\*\]\) found nothing"):
        xhs.posts({"notes": []})
    document = sample("xiaohongshu")
    del document["notes"][1]["note_id"]
    with pytest.raises(MappingError, match=r"item 1: field 'external_id'"):
        xhs.posts(document)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "a mapping is a JSON object"),
        ({"fields": {}}, "'name' is missing"),
        ({"name": "x", "kind": "comment"}, "'fields'"),
        ({"name": "x", "kind": "comment", "fields": {"text": "$.a", "author.uid": "$.b"}},
         "field 'external_id' has no path"),
        ({"name": "x", "kind": "comment", "fields": {"text": "$.a", "author.uid": "$.b",
          "external_id": "$.c", "colour": "$.d"}}, "unknown field 'colour'"),
        ({"name": "x", "kind": "story", "fields": {"text": "$.a", "author.uid": "$.b",
          "external_id": "$.c"}}, "kind 'story'"),
        ({"name": "x", "kind": "comment", "fields": {"text": "$.[[", "author.uid": "$.b",
          "external_id": "$.c"}}, r"field 'text' \(path \$.\[\[\) is not JSONPath"),
        ({"name": "x", "fields": {"text": "$.a", "author.uid": "$.b", "external_id": "$.c"}},
         "'kind' is one kind"),
    ],
)  # fmt: skip
def test_bad_mapping_files_are_refused(document: Any, message: str) -> None:
    with pytest.raises(MappingError, match=message):
        parse_mapping(document)


def test_a_missing_or_broken_file(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="does not exist"):
        load_mapping(str(tmp_path / "none.json"))
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(MappingError, match="is not JSON"):
        load_mapping(str(broken))
