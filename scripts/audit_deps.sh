#!/usr/bin/env bash
# Dependency audit (issue 21): known vulnerabilities in the installed Python packages
# (pip-audit) and the front-end packages (npm audit); fails on any not listed, with a reason
# and a review date, in scripts/audit-ignore.txt.
#
# Both audits ask a vulnerability service on the network (PyPI's JSON API or OSV; the npm
# registry's advisory endpoint). Where neither answers, as on a machine that reaches only the
# package indexes, the audit cannot run: it says so loudly and exits 0, unless
# KEFU_AUDIT_REQUIRED=1, where it fails. It never reports "no known vulnerabilities" for an
# audit that did not happen (pip-audit alone would: it skips what it cannot look up).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
IGNORE_FILE=scripts/audit-ignore.txt
required=${KEFU_AUDIT_REQUIRED:-0}
status=0

# The ignore list: ids whose review date has not passed (an expired one no longer counts).
today=$(date -u +%F)
ignores=()
while read -r id review reason; do
  [[ -z "$id" || "$id" == \#* ]] && continue
  if [[ -z "$reason" || ! "$review" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}$ ]]; then
    echo "audit: $IGNORE_FILE: '$id' needs a review date (YYYY-MM-DD) and a reason" >&2
    exit 1
  fi
  if [[ "$review" < "$today" ]]; then
    echo "audit: ignore of $id expired on $review: review it ($reason)" >&2
    continue
  fi
  ignores+=("$id")
done < "$IGNORE_FILE"

not_run() {
  echo "audit: $1 NOT RUN: $2"
  if [[ "$required" == 1 ]]; then status=1; fi
}

# Which of pip-audit's services answers from here (a real answer, not a proxy's 404).
service=$("$PY" - <<'PY'
import json, urllib.request
def ok(request):
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status == 200 and json.load(r) is not None
    except Exception:
        return False
if ok("https://pypi.org/pypi/pip/24.0/json"):  # what pip-audit asks: name and version
    print("pypi")
elif ok(urllib.request.Request("https://api.osv.dev/v1/query", method="POST",
        data=b'{"package":{"name":"pip","ecosystem":"PyPI"},"version":"20.0"}',
        headers={"Content-Type": "application/json"})):
    print("osv")
PY
)
if [[ -z "$service" ]]; then
  not_run "pip-audit" "neither PyPI's JSON API (per version) nor OSV answers from this machine"
else
  args=(--strict --local --skip-editable --progress-spinner off -s "$service")
  for id in "${ignores[@]}"; do args+=(--ignore-vuln "$id"); done
  echo "audit: pip-audit (${service}) over the installed packages"
  "$PY" -m pip_audit "${args[@]}" || status=1
fi

if [[ -f package-lock.json ]] && command -v npm >/dev/null; then
  report=$(npm audit --json --omit=dev 2>/dev/null)
  if ! grep -q '"vulnerabilities"' <<<"$report"; then
    not_run "npm audit" "the registry's advisory endpoint does not answer from this machine"
  else
    "$PY" - "$report" "${ignores[@]}" <<'PY' || status=1
import json, sys
report, ignored = json.loads(sys.argv[1]), set(sys.argv[2:])
found = []
for name, item in report.get("vulnerabilities", {}).items():
    for via in item.get("via", []):
        if isinstance(via, dict):
            ident = via.get("url", "").rsplit("/", 1)[-1] or str(via.get("source"))
            if ident not in ignored:
                found.append(f"{name}: {ident} {via.get('title', '')} ({via.get('severity')})")
print("audit: npm audit over the front-end packages:", len(found), "not ignored")
for line in found:
    print("  " + line)
sys.exit(1 if found else 0)
PY
  fi
fi
exit $status
