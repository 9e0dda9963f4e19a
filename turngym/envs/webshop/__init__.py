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
