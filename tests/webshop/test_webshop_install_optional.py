"""turngym imports and lists WebShop without the extra; making the env names the install command."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120, check=False)


def test_listing_does_not_import_the_heavy_modules() -> None:
    out = _run(
        """
        import sys
        import turngym
        assert "WebShop-v0" in [s.id for s in turngym.list_envs()]
        import turngym.envs.webshop, turngym.envs.webshop.env, turngym.cli.webshop
        heavy = [m for m in ("spacy", "bm25s", "thefuzz", "jinja2") if m in sys.modules]
        assert not heavy, heavy
        print("ok")
        """
    )
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr


def test_missing_extra_names_the_install_command() -> None:
    out = _run(
        """
        import sys
        for name in ("bm25s", "spacy"):
            sys.modules[name] = None  # `import name` now raises ImportError
        import turngym
        try:
            turngym.make("WebShop-v0")
        except ImportError as exc:
            msg = str(exc)
            assert "pip install 'turngym[webshop]'" in msg and "bm25s" in msg and "spacy" in msg, msg
            print("ok")
        """
    )
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr
