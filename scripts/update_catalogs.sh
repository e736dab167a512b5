#!/usr/bin/env bash
# Re-extract UI strings and merge them into the zh_CN and en catalogues.
# New strings arrive untranslated; tests/web/test_i18n.py fails until zh_CN has them all.
set -euo pipefail
cd "$(dirname "$0")/.."
PYBABEL=${PYBABEL:-.venv/bin/pybabel}
"$PYBABEL" extract -F babel.cfg -k gettext_ -k msgid -o src/kefu/web/locale/messages.pot --no-location --omit-header .
"$PYBABEL" update -i src/kefu/web/locale/messages.pot -d src/kefu/web/locale --ignore-obsolete --no-fuzzy-matching
