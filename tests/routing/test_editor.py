"""Form edits on the diagram → the workflow document: the same validated spec as the YAML
editor gives, errors on the field they belong to, and no silent overwrite of a newer version."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import yaml

from kefu.db.engine import make_engine, make_sessionmaker
from kefu.routing import editor, service
from kefu.routing.rules import (
    CONVERSATION_ATTRIBUTES,
    WorkflowError,
    compile_workflow,
    load_text,
)
from kefu.routing.service import DEFAULT_WORKFLOW
from kefu.web.i18n import get_locale, set_locale

DOCUMENT = compile_workflow(load_text(DEFAULT_WORKFLOW.read_text(encoding="utf-8"))).document
KEYS = [str(i) for i in range(len(DOCUMENT["rules"]))] + ["default"]


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    previous = get_locale()
    set_locale("en")
    yield
    set_locale(previous)  # later modules expect the default (Chinese) again


@pytest.mark.parametrize("key", KEYS)
def test_a_rule_shown_in_its_form_and_saved_unchanged_is_the_same_workflow(key: str) -> None:
    fields = editor.rule_form(DOCUMENT, key)
    rule = editor.rule_from_form(fields, is_default=key == "default")
    assert compile_workflow(editor.put_rule(DOCUMENT, key, rule)).document == DOCUMENT


def test_a_form_edit_gives_exactly_what_the_same_edit_in_yaml_gives() -> None:
    fields = editor.rule_form(DOCUMENT, "1")
    fields.update({"when": 'channel == "weibo" and sentiment <= -0.4', "priority": "6",
                   "t0_skills": "complaint：2， english:1", "t0_timeout": "200",
                   "t1_queue": "", "t2_queue": "deposit_wealth", "t2_timeout": "60"})  # fmt: skip
    by_form = compile_workflow(
        editor.put_rule(DOCUMENT, "1", editor.rule_from_form(fields))
    ).document

    text = yaml.safe_dump(DOCUMENT, allow_unicode=True, sort_keys=False)
    as_yaml = yaml.safe_load(text)
    as_yaml["rules"][1] = yaml.safe_load(
        """
        name: negative_social
        when: channel == "weibo" and sentiment <= -0.4
        priority: 6
        targets:
          - {queue: complaint, skills: {complaint: 2, english: 1}, relax_every: 60, timeout: 200}
          - {queue: deposit_wealth, timeout: 60}
        """
    )
    assert by_form == compile_workflow(as_yaml).document
    assert by_form["rules"][1]["targets"][0]["skills"] == {"complaint": 2, "english": 1}


def test_new_rules_move_and_delete() -> None:
    rule = editor.rule_from_form({"name": "vip", "when": 'tier == "private"', "priority": "9",
                                  "t0_queue": "general"})  # fmt: skip
    added = editor.put_rule(DOCUMENT, "new", rule)
    names = [r["name"] for r in added["rules"]]
    assert names[-1] == "vip" and len(names) == 6
    up = editor.move_rule(added, "5", -1)
    assert [r["name"] for r in up["rules"]][-2:] == ["vip", "wealth"]
    assert [r["name"] for r in editor.move_rule(added, "0", -1)["rules"]] == names  # already first
    assert [r["name"] for r in editor.delete_rule(added, "0")["rules"]] == names[1:]
    assert DOCUMENT["rules"][0]["name"] == "crisis"  # the original is never changed
    with pytest.raises(KeyError):
        editor.delete_rule(DOCUMENT, "9")
    with pytest.raises(KeyError):
        editor.move_rule(DOCUMENT, "default", 1)


def _problems(fields: dict[str, str], key: str = "0") -> tuple[dict[str, str], list]:
    base = editor.rule_form(DOCUMENT, key)
    base.update(fields)
    with pytest.raises(WorkflowError) as caught:
        compile_workflow(editor.put_rule(DOCUMENT, key, editor.rule_from_form(base)))
    return editor.field_errors(caught.value.problems, key)


def test_invalid_edits_name_the_field_they_belong_to() -> None:
    assert _problems({"priority": "abc"}) == ({"priority": "Enter a whole number."}, [])
    assert _problems({"priority": "101"}) == ({"priority": "At most 100."}, [])
    fields, _ = _problems({"when": "crisis or foo == 1"})
    known = ", ".join(sorted(CONVERSATION_ATTRIBUTES))
    assert fields == {"when": f"Unknown attribute “foo” at position 10 (known: {known})."}
    assert _problems({"when": "crisis or"})[0] == {
        "when": "A value or attribute was expected at position 9, found 'end of expression'."
    }
    assert _problems({"t1_queue": "nowhere"})[0] == {"t1_queue": "There is no queue “nowhere”."}
    assert _problems({"t0_skills": "complaint:9"})[0] == {"t0_skills": "A skill level is 0 to 5."}
    assert _problems({"t0_timeout": "0"})[0] == {"t0_timeout": "At least 1."}
    assert _problems({"t0_queue": "", "t1_queue": ""})[0] == {
        "targets": "Give at least one target (a queue)."
    }
    # A problem outside the rule being edited is reported apart, still in words.
    fields, others = _problems({"name": "wealth"}, key="0")
    assert fields == {} and [p.path for p in others] == ["rules[4].name"]
    assert editor.describe(others[0].message) == "Another rule is already called “wealth”."


def test_skills_that_are_not_name_level_pairs_are_refused_before_validation() -> None:
    with pytest.raises(editor.FormError) as caught:
        editor.rule_from_form(
            {"name": "x", "when": "true", "t0_queue": "general", "t0_skills": "complaint"}
        )
    assert caught.value.fields == {
        "t0_skills": "Write skills as name:level, e.g. complaint:4, english:3."
    }


def test_problems_read_in_chinese_by_default() -> None:
    set_locale("zh_CN")
    assert (
        editor.describe("Input should be a valid integer, unable to parse string as an integer")
        == "请填写整数。"
    )
    assert editor.describe("no queue 'x'") == "没有“x”队列。"
    assert editor.describe("expected a value or attribute, found '<' at position 11") == (
        "第 11 个字符处应为值或属性，实际是 '<'。"
    )
    assert editor.describe("something new") == "something new"  # unknown: unchanged, never lost


# -- saving against the version the editor started from ---------------------------------------------
def test_a_save_based_on_an_older_version_is_refused(db_url: str) -> None:
    async def go() -> None:
        engine = make_engine(db_url)
        try:
            maker = make_sessionmaker(engine)
            async with maker() as s:
                version, _ = await service.current_workflow(s)
                await s.commit()
            assert version == 1
            edited = editor.put_rule(DOCUMENT, "0", {**DOCUMENT["rules"][0], "priority": 9})
            async with maker() as s:
                row = await editor.save_version(
                    s, document=edited, base=1, comment="a", actor="alice"
                )
                await s.commit()
            assert row.version == 2
            async with maker() as s:
                with pytest.raises(editor.VersionConflict) as caught:
                    await editor.save_version(
                        s, document=DOCUMENT, base=1, comment="b", actor="bob"
                    )
            assert (caught.value.base, caught.value.current, caught.value.by) == (1, 2, "alice")
            async with maker() as s:
                assert (await service.current_workflow(s))[1].document == compile_workflow(
                    edited
                ).document
        finally:
            await engine.dispose()

    asyncio.run(go())


def test_two_saves_racing_from_the_same_version_store_exactly_one(db_url: str) -> None:
    """Both read version 1 before either writes (the check passes for both); the unique
    version number lets one through and the other is told, not failed with a 500."""

    async def go() -> list[object]:
        engine = make_engine(db_url)
        try:
            maker = make_sessionmaker(engine)
            async with maker() as s:
                await service.current_workflow(s)
                await s.commit()
            both_checked = asyncio.Barrier(2)
            real_save = service.save_workflow

            async def save_after_both_checked(session, **kwargs):  # type: ignore[no-untyped-def]
                await both_checked.wait()
                return await real_save(session, **kwargs)

            async def one(actor: str, priority: int) -> object:
                async with maker() as s:
                    doc = editor.put_rule(
                        DOCUMENT, "0", {**DOCUMENT["rules"][0], "priority": priority}
                    )
                    try:
                        row = await editor.save_version(
                            s, document=doc, base=1, comment="", actor=actor
                        )
                        await s.commit()
                        return row.version
                    except editor.VersionConflict as exc:
                        return exc

            service.save_workflow = save_after_both_checked  # type: ignore[assignment]
            try:
                results = await asyncio.gather(one("alice", 7), one("bob", 9))
            finally:
                service.save_workflow = real_save  # type: ignore[assignment]
            async with maker() as s:
                version, workflow = await service.current_workflow(s)
            assert version == 2
            return [*results, workflow.document["rules"][0]["priority"]]
        finally:
            await engine.dispose()

    first, second, stored = asyncio.run(go())
    saved = [r for r in (first, second) if r == 2]
    refused = [r for r in (first, second) if isinstance(r, editor.VersionConflict)]
    assert len(saved) == 1 and len(refused) == 1 and refused[0].current == 2
    assert stored == (7 if first == 2 else 9)
