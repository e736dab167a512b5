"""A strict allow-list for the WeChat variant's rich text, used wherever it is rendered.

Editors write a little HTML (links, images, bold, lists) for WeChat and web chat. Rendering it
unfiltered in the staff UI would let one editor script another's browser, so it goes through
nh3 (the Ammonia sanitizer, which parses HTML as a browser does: the tree it keeps is the tree
the browser builds) with an allow-list of tags, and every link and image address must pass
:func:`safe_url`.

The URL rule follows how a browser resolves an ``href`` (WHATWG URL): it first strips leading
and trailing spaces and control characters and removes tabs and newlines anywhere, and, the
page being http(s), reads ``\\`` as ``/``. Only then is the address judged: it is kept if it is
``http://`` or ``https://`` with a host, or site-relative (no scheme, not starting with ``//``,
which a browser reads as another host). So ``/\\evil.com``, ``\\\\evil.com``, ``//evil.com``,
``java\\tscript:`` and entity-encoded schemes (decoded by the parser before the check) are
refused; the link keeps its text and loses its address.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

import nh3

ALLOWED = {"a": {"href"}, "img": {"src", "alt"}, "b": set(), "strong": set(), "i": set(),
           "em": set(), "p": set(), "br": set(), "ul": set(), "ol": set(), "li": set()}  # fmt: skip
_URL_ATTRS = {("a", "href"), ("img", "src")}
_TAB_NEWLINE = re.compile("[\t\n\r]")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.\-]*:")


def _as_browser_reads(url: str) -> str:
    """The address a browser on an http(s) page would parse (WHATWG's pre-processing)."""
    url = url.strip("".join(map(chr, range(0x21))))  # C0 controls and space, both ends
    return _TAB_NEWLINE.sub("", url).replace("\\", "/")


def safe_url(url: str) -> bool:
    """Whether a link or image address stays on this site or goes to an http(s) host."""
    url = _as_browser_reads(url)
    if _SCHEME.match(url):
        scheme, rest = url.split(":", 1)
        # "https:evil.com" is read differently depending on the page's own scheme; only the
        # unambiguous "scheme://host" form is kept.
        return (scheme.lower() in {"http", "https"} and rest.startswith("//")
                and bool(urlsplit(url).hostname))  # fmt: skip
    return not url.startswith("//")


def _filter(tag: str, attribute: str, value: str) -> str | None:
    if (tag, attribute) in _URL_ATTRS and not safe_url(value):
        return None
    return value


def sanitize(text: str) -> str:
    return nh3.clean(
        text,
        tags=set(ALLOWED),
        attributes=ALLOWED,
        attribute_filter=_filter,
        url_schemes={"http", "https"},
        link_rel="noopener noreferrer",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        strip_comments=True,
    )


def plain_text(text: str) -> str:
    """Rich text as a channel without markup (SMS) would show it."""
    return html.unescape(re.sub(r"<[^>]+>", "", text)).strip()
