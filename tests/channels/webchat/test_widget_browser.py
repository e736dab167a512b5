"""The web chat widget (channels/webchat/assets/widget.ts): its bundle size, and the widget in a
real browser (Debian's Chromium through Playwright) on the demo bank page of a real kefu."""

from __future__ import annotations

import gzip
import re

import pytest

from tests.conftest import REPO_ROOT

WEBCHAT = REPO_ROOT / "src" / "kefu" / "channels" / "webchat"
BUNDLE = WEBCHAT / "static" / "dist" / "widget.js"
needs_bundle = pytest.mark.skipif(
    not BUNDLE.exists(), reason="the widget is not built (npm run build / make assets)"
)


@needs_bundle
def test_bundle_is_small_and_self_contained() -> None:
    code = BUNDLE.read_bytes()
    size = len(gzip.compress(code, compresslevel=9))
    assert size < 30 * 1024, f"widget.js is {size} bytes gzipped"
    text = code.decode()
    # One request: no CDN, no second script or stylesheet fetched at run time (the only absolute
    # URL is the SVG namespace of the launcher's icon).
    assert set(re.findall(r"https?://[^\s\"'`]+", text)) <= {"http://www.w3.org/2000/svg"}
    assert "import(" not in text
    # Text from the server never goes through an HTML parser.
    assert "innerHTML" not in text and "insertAdjacentHTML" not in text
