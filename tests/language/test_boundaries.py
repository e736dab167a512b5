"""The layer's architectural promises: no db/web imports, light CLI import, small models."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from kefu.language.resources import MODELS_DIR, PACKAGE_DIR


def test_language_does_not_import_db_or_web() -> None:
    for path in PACKAGE_DIR.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith(("kefu.db", "kefu.web", "kefu.workspace")), path


def test_cli_import_loads_no_models_or_sklearn() -> None:
    code = (
        "import sys, kefu.language.cli; "
        "print(any(m in sys.modules for m in ('jieba', 'sklearn', 'numpy', 'cn2an')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_serving_does_not_import_sklearn_or_torch() -> None:
    code = (
        "import sys; from kefu.language.analyze import analyze, load_models; load_models(); "
        "analyze('查余额'); analyze('今天去网点办业务排了两个小时的队，柜台只开了一个窗口'); "
        "print('sklearn' in sys.modules, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def test_shipped_models_are_small() -> None:
    models = [*Path(MODELS_DIR).glob("*.joblib"), *Path(MODELS_DIR).glob("*.npz")]
    sizes = {p.name: p.stat().st_size for p in models}
    assert set(sizes) == {"intent.joblib", "sentiment.joblib", "sentiment_head.npz"}
    assert sum(sizes.values()) < 5 * 1024 * 1024
