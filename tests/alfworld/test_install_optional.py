"""turngym must import and list envs without the alfworld extra; the env names the install command."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_registry_lists_alfworld_without_importing_the_engine() -> None:
    code = textwrap.dedent(
        """
        import sys
        import turngym
        ids = [s.id for s in turngym.list_envs()]
        assert "ALFWorld-v0" in ids, ids
        import turngym.envs.alfworld  # the package itself is light
        heavy = [m for m in ("alfworld", "textworld", "fast_downward") if m in sys.modules]
        assert not heavy, heavy
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("ok")


def test_missing_extra_raises_import_error_with_install_hint() -> None:
    # Simulate an interpreter without the extra: block the imports, then make the env.
    code = textwrap.dedent(
        """
        import sys
        for name in ("alfworld", "textworld", "fast_downward"):
            sys.modules[name] = None  # makes `import name` raise ImportError
        import turngym
        try:
            turngym.make("ALFWorld-v0")
        except ImportError as exc:
            msg = str(exc)
            assert "scripts/install_alfworld.sh" in msg and "alfworld" in msg, msg
            print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("ok")
