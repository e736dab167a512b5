"""The zh_CN catalogue translates every UI string, and the catalogues are in sync with the code."""

from __future__ import annotations

import subprocess
import sys

from babel.messages.pofile import read_po

from kefu.web.i18n import LOCALE_DIR
from tests.conftest import REPO_ROOT


def _catalog(locale: str):  # type: ignore[no-untyped-def]
    with (LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh, locale=locale)


def test_every_string_has_a_chinese_translation() -> None:
    untranslated = [m.id for m in _catalog("zh_CN") if m.id and (not m.string or m.fuzzy)]
    assert untranslated == [], "fuzzy entries are not used at run time either"


def test_catalogue_contains_every_string_in_the_code(tmp_path) -> None:
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "-k", "gettext_",
         "-o", str(pot), "--no-location", "--omit-header", "."],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    )  # fmt: skip
    with pot.open("rb") as fh:
        extracted = {m.id for m in read_po(fh) if m.id}
    known = {m.id for m in _catalog("zh_CN") if m.id}
    assert extracted - known == set(), (
        "run scripts/update_catalogs.sh and translate the new strings"
    )
