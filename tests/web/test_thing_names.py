"""名称 vs 姓名 (issue 23): the catalogue translates "Name" as 姓名, a person's name; a thing's
name (a menu item, an SMS template) is 名称 and has its own msgid. A template that labels a
thing with "Name" says 姓名 where 名称 is meant."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po

from kefu.web.i18n import LOCALE_DIR

SRC = Path(__file__).resolve().parents[2] / "src" / "kefu"
PERSON_NAME = re.compile(r"""_\(\s*["']Name["']\s*\)""")
# Templates whose "Name" labels a person: staff users, agents, the customer in the panel.
PERSON_TEMPLATES = {
    "admin/templates/admin/users.html",
    "workspace/templates/workspace/agents.html",
    "workspace/templates/workspace/conversation.html",
    "branch/templates/branch/remote_session.html",  # the customer at a remote-teller session
}


def test_name_meaning_a_person_is_used_only_for_people() -> None:
    using = {
        str(path.relative_to(SRC))
        for path in SRC.glob("**/templates/**/*.html")
        if PERSON_NAME.search(path.read_text(encoding="utf-8"))
    }
    assert using <= PERSON_TEMPLATES, (
        f"{sorted(using - PERSON_TEMPLATES)} label something with _('Name') (姓名); "
        "a thing's name is _('Item name') or _('Template name') (名称)"
    )


def test_things_are_named_with_mingcheng() -> None:
    with (LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = {m.id: m.string for m in read_po(fh, locale="zh_CN") if m.id}
    assert catalog["Name"] == "姓名"
    assert catalog["Item name"] == "名称" and catalog["Template name"] == "模板名称"
    # The two pages the issue names show 名称.
    menu = (SRC / "hall/templates/hall/admin/menu.html").read_text(encoding="utf-8")
    sms = (SRC / "outbound/templates/outbound/templates.html").read_text(encoding="utf-8")
    assert '_("Item name")' in menu and sms.count('_("Template name")') == 2
