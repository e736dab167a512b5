"""The rich-text sanitizer (issue 21): links that a browser would send to another origin or run
as script are refused in every spelling; same-site and http(s) links are kept."""

from __future__ import annotations

import pytest

from kefu.knowledge.richtext import plain_text, safe_url, sanitize

LEAVING = [
    "/\\evil.com",
    "\\\\evil.com",
    "\\/evil.com",
    "//evil.com",
    "/\t/evil.com",
    "/\n/evil.com",
    " //evil.com",
    "\x01//evil.com",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "java\tscript:alert(1)",
    "java\nscript:alert(1)",
    " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "https:evil.com",
    "http:/evil.com",
    "https://",
]
ENTITY_SPELLINGS = [
    "javascript&colon;alert(1)",
    "jav&#x61;script:alert(1)",
    "java&#9;script:alert(1)",
    "java&Tab;script:alert(1)",
    "&#x2f;&#x5c;evil.com",
    "/&#92;evil.com",
    "&#47;&#47;evil.com",
]
KEPT = [
    "/cards/apply",
    "/cards/apply?x=1#fee",
    "cards/apply",
    "#fees",
    "?page=2",
    "https://bank.example.com/rates",
    "HTTP://bank.example.com/",
    "http://bank.example.com:8080/a",
]


@pytest.mark.parametrize("href", LEAVING)
def test_links_that_leave_the_site_are_refused(href: str):
    assert not safe_url(href)
    out = sanitize(f'<a href="{href.replace(chr(34), "&quot;")}">点我</a>')
    assert "href" not in out and "点我" in out


@pytest.mark.parametrize("href", ENTITY_SPELLINGS)
def test_entity_spellings_are_judged_after_decoding(href: str):
    out = sanitize(f'<a href="{href}">点我</a>')
    assert "href" not in out and "点我" in out


@pytest.mark.parametrize("src", ["/\\evil.com/x.png", "//evil.com/x.png", "javascript:x"])
def test_images_follow_the_same_rule(src: str):
    assert "src" not in sanitize(f'<img src="{src}" alt="卡面">')


@pytest.mark.parametrize("href", KEPT)
def test_same_site_and_http_links_are_kept(href: str):
    assert safe_url(href)
    out = sanitize(f'<a href="{href}">办卡</a>')
    assert f'href="{href.replace("&", "&amp;")}"' in out
    assert 'rel="noopener noreferrer"' in out and 'target="_blank"' in out


def test_markup_outside_the_allow_list_is_dropped_and_text_escaped():
    out = sanitize('<p onclick="x()">余额 <b>100</b> &lt;元&gt;</p><script>steal()</script>'
                   '<iframe src="/x"></iframe><!-- note --><ul><li>一</li></ul>')  # fmt: skip
    assert out == "<p>余额 <b>100</b> &lt;元&gt;</p><ul><li>一</li></ul>"


def test_plain_text_strips_markup():
    assert plain_text("<p>余额 <b>100</b> &amp; 更多</p>") == "余额 100 & 更多"
