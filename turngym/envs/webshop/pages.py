"""Pages: WebShop's HTML (Jinja2 templates with upstream's visible text) and its text observations.

One source of truth: every observation mode is derived from the rendered HTML, as upstream's text env
does. :func:`parse_page` reads the HTML once (a tokenizer for our own markup) and yields the visible text
nodes and the clickables, with BeautifulSoup's semantics that upstream relies on: text under
``style/script/head/title/meta`` and comments is invisible, a whitespace-only string becomes
``'\\n'`` (or ``' '`` without a newline) except inside ``<pre>``, entities are decoded, and a
clickable's text is its whole content. From there:

- ``text`` (upstream ``simple``): ``' [SEP] '.join`` of the stripped nodes, ``'\\n'`` nodes dropped
  → ``WebShop [SEP] Instruction: [SEP] ... [SEP] Search``;
- ``text_rich``: one line per node, ``[button] X [button_]`` for buttons and option labels,
  ``[clicked button]`` for an option whose ``"value"`` is in the URL (upstream tests the URL's JSON)
  and for products already opened, ``You have clicked X.`` lines in front;
- ``url``: the SimServer URL of the page; ``html``: the page itself.

Clickables (upstream ``get_available_actions``): lower-cased texts of ``.btn`` elements and
``.product-link`` anchors in document order, then the ``value`` of each radio input.
"""

from __future__ import annotations

import functools
import json
import urllib.parse
from dataclasses import dataclass, field
import html as html_lib
import re
from pathlib import Path
from typing import Any

TEMPLATE_DIR = Path(__file__).with_name("templates")
OBSERVATION_MODES = ("text", "text_rich", "html", "url")
_INVISIBLE = {"style", "script", "head", "title", "meta", "[document]"}
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
_ASCII_SPACES = "\x20\x0a\x09\x0c\x0d"


@dataclass(frozen=True)
class TextNode:
    text: str
    parent: str
    parent_class: tuple[str, ...]


@dataclass(frozen=True)
class Clickable:
    kind: str  # "button" | "product" | "option"
    option_name: str | None = None


@dataclass
class ParsedPage:
    nodes: list[TextNode] = field(default_factory=list)
    clickables: dict[str, Clickable] = field(default_factory=dict)
    has_search_bar: bool = False


_TOKEN = re.compile(r"<!--.*?-->|<script\b[^>]*>.*?</script\s*>|<style\b[^>]*>.*?</style\s*>|<![^>]*>|</?[A-Za-z][^>]*>|[^<]+|<", re.S)
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)([^>]*)>", re.S)
_ATTR = re.compile(r"""([A-Za-z_:][-A-Za-z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")
_WS = str.maketrans("", "", _ASCII_SPACES)
_CLASS = re.compile(r"""\sclass\s*=\s*["']([^"']*)["']""")


def _attrs(text: str) -> dict[str, str]:
    return {m.group(1).lower(): html_lib.unescape(next((g for g in m.group(2, 3, 4) if g is not None), "")) for m in _ATTR.finditer(text)}


@functools.lru_cache(maxsize=2048)
def parse_page(html: str) -> ParsedPage:
    """Visible text nodes and clickables of one of our pages (see the module docstring).

    A regex tokenizer, not a general HTML parser: our pages come from our templates, where every
    data string is escaped, so ``<`` only ever starts a tag, comment or script. Tests compare the
    result with upstream's BeautifulSoup code on every page kind. Memoized: the rollouts of a
    group see the same pages again and again (treat the result as read-only).
    """
    page = ParsedPage()
    stack: list[tuple[str, tuple[str, ...]]] = []
    open_clicks: list[list[Any]] = []  # [kind, chunks, depth]
    buttons: list[str] = []
    links: list[str] = []
    radios: list[tuple[str, str | None]] = []
    pre_depth = 0
    for m in _TOKEN.finditer(html):
        tok = m.group(0)
        if tok[0] == "<" and len(tok) > 1:
            if tok.startswith("<!") or tok[:7].lower().startswith(("<script", "<style")):
                continue  # comments, doctype, scripts and styles are never visible
            t = _TAG.match(tok)
            if t is None:
                continue
            closing, tag = t.group(1) == "/", t.group(2).lower()
            if closing:
                if tag in _VOID or not any(x == tag for x, _ in stack):
                    continue
                while stack:
                    x, _ = stack.pop()
                    if x == "pre":
                        pre_depth -= 1
                    while open_clicks and open_clicks[-1][2] > len(stack):
                        kind, chunks, _ = open_clicks.pop()
                        (buttons if kind == "button" else links).append("".join(chunks))
                    if x == tag:
                        break
                continue
            rest = t.group(3)
            cm = _CLASS.search(rest) if "class" in rest else None
            classes = tuple(cm.group(1).split()) if cm else ()
            if tag == "input":
                a = _attrs(rest)
                if a.get("id") == "search_input":
                    page.has_search_bar = True
                if a.get("type", "").lower() == "radio":
                    radios.append((a.get("value", "None"), a.get("name")))
            if tag in _VOID or rest.rstrip().endswith("/"):
                continue
            stack.append((tag, classes))
            if tag == "pre":
                pre_depth += 1
            if "btn" in classes or "product-link" in classes:
                open_clicks.append(["button" if "btn" in classes else "product", [], len(stack)])
            continue
        data = html_lib.unescape(tok) if "&" in tok else tok
        if not data.translate(_WS) and not pre_depth:
            data = "\n" if "\n" in data else " "
        for entry in open_clicks:
            entry[1].append(data)
        parent, classes = stack[-1] if stack else ("[document]", ())
        if parent not in _INVISIBLE:
            page.nodes.append(TextNode(data, parent, classes))
    for kind, chunks, _ in open_clicks:
        (buttons if kind == "button" else links).append("".join(chunks))
    for text in buttons:
        page.clickables[text.lower()] = Clickable("button")
    for text in links:
        page.clickables[text.lower()] = Clickable("product")
    for value, name in radios:
        page.clickables[value] = Clickable("option", name)
    return page


def simple_text(page: ParsedPage) -> str:
    return " [SEP] ".join(n.text.strip() for n in page.nodes if n.text != "\n")


def rich_text(page: ParsedPage, url: str, opened_asins: set[str] | frozenset[str]) -> str:
    observation = ""
    for node in page.nodes:
        t = node.text
        if t == "\n":
            continue
        if node.parent == "button":
            processed = f"[button] {t} [button_]"
        elif node.parent == "label":
            if f'"{t}"' in url:
                processed = f"  [clicked button] {t} [clicked button_]"
                observation = f"You have clicked {t}.\n" + observation
            else:
                processed = f"  [button] {t} [button_]"
        elif node.parent_class == ("product-link",):
            processed = f"\n[clicked button] {t} [clicked button_]" if t in opened_asins else f"\n[button] {t} [button_]"
        else:
            processed = t
        observation += processed + "\n"
    return observation


# -- links inside the pages (the web site's routes) --------------------------------------------
def quote_segment(text: str) -> str:
    return urllib.parse.quote(text, safe="")


def _kw(keywords: list[str]) -> str:
    """Keywords as one path segment. A ``/`` would split the path once the server decodes it; the
    search tokenizer splits on ``/`` anyway, so a space searches the same."""
    return quote_segment(" ".join(keywords).replace("/", " "))


class SiteUrls:
    """Form actions and links of one session's pages; the site serves exactly these routes."""

    def __init__(self, session_id: str, root: str = "") -> None:
        self.root = root.rstrip("/")
        self.sid = quote_segment(session_id)

    def static(self, name: str) -> str:
        return f"{self.root}/static/{name}"

    def index(self) -> str:
        return f"{self.root}/{self.sid}"

    def results(self, keywords: list[str], page: int) -> str:
        return f"{self.root}/search_results/{self.sid}/{_kw(keywords)}/{page}"

    def item(self, asin: str, keywords: list[str], page: int, options: dict[str, str]) -> str:
        return f"{self.root}/item_page/{self.sid}/{quote_segment(asin)}/{_kw(keywords)}/{page}/{quote_segment(json.dumps(options))}"

    def sub(self, asin: str, keywords: list[str], page: int, sub_page: str, options: dict[str, str]) -> str:
        return f"{self.root}/item_sub_page/{self.sid}/{quote_segment(asin)}/{_kw(keywords)}/{page}/{sub_page}/{quote_segment(json.dumps(options))}"

    def done(self, asin: str, options: dict[str, str]) -> str:
        return f"{self.root}/done/{self.sid}/{quote_segment(asin)}/{quote_segment(json.dumps(options))}"


@functools.lru_cache(maxsize=1)
def jinja_env() -> Any:
    try:
        import jinja2
    except ImportError as exc:
        raise ImportError("WebShop pages need jinja2 (the webshop extra): pip install 'turngym[webshop]'") from exc
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)), autoescape=True, keep_trailing_newline=True)


def render(template: str, **context: Any) -> str:
    return jinja_env().get_template(template).render(**context)


def stylesheet() -> str:
    return (TEMPLATE_DIR / "style.css").read_text(encoding="utf-8")
