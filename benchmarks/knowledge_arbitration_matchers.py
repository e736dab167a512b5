"""The assistant's arbitration benchmark with the old BQ-trained matcher and the new
licence-clean one, so the product effect of the replacement is seen in one run.

Run: .venv/bin/python benchmarks/knowledge_arbitration_matchers.py   (~30 s)

Runs benchmarks/assistant_arbitration.py twice in fresh processes: once with the index ranking
by the old matcher.json (commit b13f50b, trained on BQ dev — research-only, no longer shipped),
once as shipped. "reached" is the share of rows whose reply is the labelled command or FAQ.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from kefu.language.resources import REPO_ROOT

OLD_COMMIT = "b13f50b"
SCRIPT = Path(__file__).resolve().parent / "assistant_arbitration.py"
RUN = """
import runpy, sys
from kefu.knowledge import index, matcher
path = sys.argv[1]
if path != "shipped":
    old = matcher.MatcherModel.from_json(open(path, encoding="utf-8").read())
    index.shipped_matcher = lambda: old
script = sys.argv[2]
sys.argv = [script, *sys.argv[3:]]
runpy.run_path(script, run_name="__main__")
"""


def main() -> None:
    blob = subprocess.run(
        ["git", "show", f"{OLD_COMMIT}:src/kefu/knowledge/data/matcher.json"],
        cwd=REPO_ROOT, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "matcher_bq.json"
        old.write_text(blob, encoding="utf-8")
        for name, model in (("old BQ-trained matcher", str(old)), ("new licence-clean", "shipped")):
            print(f"== {name}", flush=True)
            subprocess.run(
                [sys.executable, "-c", RUN, model, str(SCRIPT), *sys.argv[1:]],
                check=True, cwd=REPO_ROOT,
                env={"KEFU_KNOWLEDGE_DENSE": "none", "PATH": "/usr/bin:/bin",
                     "HOME": str(Path.home())},
            )  # fmt: skip


if __name__ == "__main__":
    main()
