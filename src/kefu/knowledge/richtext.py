"""A strict allow-list for the WeChat variant's rich text, used wherever it is rendered.

Editors write a little HTML (links, images, bold, lists) for WeChat and web chat. Rendering it
unfiltered in the staff UI would let one editor script another's browser, so everything outside
the allow-list is escaped, and links and images must be http(s) or site-relative.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

ALLOWED = {"a": {"href"}, "img": {"src", "alt"}, "b": set(), "strong": set(), "i": set(),
           "em": set(), "p": set(), "br": set(), "ul": set(), "ol": set(), "li": set()}  # fmt: skip
VOID = {"br", "img"}
_SAFE_URL = re.compile(r"^(https?://|/)[^\s\"'<>]*$", re.IGNORECASE)


class _Sanitizer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []
        self.skipping = 0  # inside <script>/<style>: their text is code, not content

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "style"}:
            self.skipping += 1
        if tag not in ALLOWED:
            return
        kept = []
        for name, value in attrs:
            if name in ALLOWED[tag] and value is not None:
                if name in {"href", "src"} and not _SAFE_URL.match(value):
                    continue
                kept.append(f' {name}="{html.escape(value, quote=True)}"')
        if tag == "a":
            kept.append(' rel="noopener noreferrer" target="_blank"')
        self.out.append(f"<{tag}{''.join(kept)}>")
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style"}:
            self.skipping = max(0, self.skipping - 1)
        if tag in self.open:
            while self.open:
                last = self.open.pop()
                self.out.append(f"</{last}>")
                if last == tag:
                    break

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.out.append(html.escape(data, quote=False))


def sanitize(text: str) -> str:
    parser = _Sanitizer()
    parser.feed(text)
    parser.close()
    return "".join(parser.out) + "".join(f"</{t}>" for t in reversed(parser.open))


def plain_text(text: str) -> str:
    """Rich text as a channel without markup (SMS) would show it."""
    return html.unescape(re.sub(r"<[^>]+>", "", text)).strip()
