"""Answer checking for MathTool: ``\\boxed{}`` extraction, ``math-verify`` with a sympy fallback.

Why three stages: ``math-verify`` (Hugging Face's grader, the one ToRL/SimpleTIR-style recipes use)
understands LaTeX and plain expressions and compares them symbolically; when it cannot parse one
side, a plain ``sympy`` comparison of the ASCII expressions still grades ``2^(n-1)`` against
``2**(n - 1)``; and answers that are words (CHAMP's "No") are compared as normalised text.

The policy writes the answer, so the grader treats it as hostile input. sympy's ``parse_expr``
(used here and inside math-verify) evaluates its input with Python's ``eval``, so only a
*formula* ever reaches a symbolic stage: characters from a math allow-list, and no identifier of
two or more letters but known math names (``sqrt``, ``frac``, ``pi``...), which rules out
``eval``, ``chr``, ``__import__``, attribute access and strings; anything else is compared as
text only. Answers longer than ``MAX_ANSWER_CHARS`` or holding power towers/huge exponents are
never evaluated either (sympy would try ``9^9^9^9``), and in the main thread (where envs run,
in process or in vector workers) each symbolic stage runs under a signal timeout. Grading never
raises: anything that fails is "not equal".
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache
from typing import Any

MAX_ANSWER_CHARS = 200
_TIMEOUT_S = 3
#: an exponent with 4+ digits, or two exponentiations in a row (a tower)
_DANGEROUS = re.compile(r"(\^|\*\*)\s*[{(]?\s*-?\d{4,}|(\^|\*\*)[^^*]{0,12}(\^|\*\*)|!\s*!|\d{3,}\s*!")
_WORDS = re.compile(r"[a-z]+")
#: characters a formula may hold (no quotes, backticks, ``@``, ``#``, ``;``, ``$``)
_FORMULA_CHARS = re.compile(r"^[0-9A-Za-z\s+\-*/^().,=\\_{}\[\]!|<>:%±√π−×·÷≤≥∞′°]*$")
_ASCII_FIXES = (("−", "-"), ("×", "*"), ("·", "*"), ("÷", "/"), ("^", "**"))


def last_boxed(text: str) -> str | None:
    """The content of the last ``\\boxed{...}`` (or ``\\fbox{...}``), braces balanced; None if absent."""
    if not isinstance(text, str):
        return None
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if start < 0:
        return None
    i = text.find("{", start)
    if i < 0 or text[start:i].strip() not in ("\\boxed", "\\fbox"):
        # ``\boxed 5`` (no braces): the next token
        m = re.match(r"\\(?:boxed|fbox)\s+([^\s$]+)", text[start:])
        return m.group(1) if m else None
    depth = 0
    for j in range(i, len(text)):
        c = text[j]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1 : j].strip()
    return None


def normalize_text(answer: str) -> str:
    """Lower-case words without TeX wrappers, spaces or trailing punctuation (for word answers)."""
    s = unicodedata.normalize("NFKC", answer)
    s = re.sub(r"\\text\{([^{}]*)\}", r"\1", s)
    s = s.replace("$", "").replace("\\", "").strip().rstrip(".").lower()
    return " ".join(s.split())


def is_safe(answer: str) -> bool:
    """Whether an answer may be handed to sympy: a bounded formula of math names, no power towers."""
    return (len(answer) <= MAX_ANSWER_CHARS and not _DANGEROUS.search(answer) and "__" not in answer
            and bool(_FORMULA_CHARS.match(answer)) and not _has_words(answer))


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@lru_cache(maxsize=4096)
def _mv_parse(text: str) -> tuple[Any, ...]:
    from math_verify import parse

    timeout = _TIMEOUT_S if _main_thread() else None
    try:
        return tuple(parse(f"${text}$", parsing_timeout=timeout))  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - grading never raises
        return ()


def _mv_equal(gold: str, pred: str) -> bool:
    from math_verify import verify

    g, p = _mv_parse(gold), _mv_parse(pred)
    if not g or not p:
        return False
    timeout = _TIMEOUT_S if _main_thread() else None
    try:
        return bool(verify(list(g), list(p), timeout_seconds=timeout))  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - grading never raises
        return False


@lru_cache(maxsize=4096)
def _sympy_expr(text: str) -> Any:
    import sympy
    from sympy.parsing.sympy_parser import (
        implicit_multiplication_application,
        parse_expr,
        standard_transformations,
    )

    s = text.replace("$", "").strip()
    for a, b in _ASCII_FIXES:
        s = s.replace(a, b)
    try:
        expr = parse_expr(s, transformations=(*standard_transformations, implicit_multiplication_application), evaluate=True)
    except Exception:  # noqa: BLE001 - sympy raises anything from SyntaxError to TokenError on hostile input
        return None
    return expr if isinstance(expr, sympy.Basic) else None


def _sympy_equal(gold: str, pred: str) -> bool:
    import sympy
    from math_verify.utils import timeout

    def compare() -> bool:
        g, p = _sympy_expr(gold), _sympy_expr(pred)
        return g is not None and p is not None and bool(sympy.simplify(g - p) == 0)

    try:
        return (timeout(_TIMEOUT_S)(compare) if _main_thread() else compare)()
    except Exception:  # noqa: BLE001 - grading never raises (math-verify's TimeoutException included)
        return False


def answers_equal(gold: str, pred: str) -> bool:
    """Whether a predicted answer (the content of ``\\boxed{}``) equals the gold answer."""
    if not isinstance(pred, str) or not pred.strip():
        return False
    pred = pred.strip()
    if normalize_text(pred) == normalize_text(gold):
        return True
    if not is_safe(pred):
        return False
    return _mv_equal(gold, pred) or _sympy_equal(gold, pred)


def answer_key(pred: str | None) -> str | None:
    """A canonical form for majority voting: equal answers (``0.5``, ``\\frac{1}{2}``) share a key."""
    if pred is None or not pred.strip():
        return None
    pred = pred.strip()
    if is_safe(pred):
        parsed = _mv_parse(pred)
        if parsed:
            import sympy

            value = parsed[0]
            try:
                if isinstance(value, sympy.Basic):
                    value = sympy.nsimplify(value, rational=True) if value.is_Float else sympy.simplify(value)
                return str(value)
            except Exception:  # noqa: BLE001 - grading never raises
                return str(parsed[0])
    return normalize_text(pred)


#: names a formula may use (LaTeX commands without their backslash, and sympy's function names);
#: none of them reaches anything outside sympy when ``parse_expr`` evaluates it
_MATH_WORDS = frozenset((
    "sqrt", "pi", "sin", "cos", "tan", "cot", "sec", "csc", "arcsin", "arccos", "arctan", "log", "ln", "exp",
    "frac", "dfrac", "tfrac", "cdot", "times", "div", "infty", "oo", "pm", "mp", "left", "right", "le", "ge", "leq",
    "geq", "neq", "ne", "approx", "circ", "degree", "binom", "dots", "ldots", "cdots", "quad", "displaystyle",
    "mathrm", "lfloor", "rfloor", "lceil", "rceil", "floor", "ceiling", "theta", "alpha", "beta", "gamma", "phi",
))


def _has_words(text: str) -> bool:
    """Prose rather than a formula: a word of two or more letters that is no function name."""
    return any(len(w) > 1 and w not in _MATH_WORDS for w in _WORDS.findall(normalize_text(text)))


def is_checkable(gold: str) -> bool:
    """Whether a gold answer can be graded fairly: a yes/no, or a formula without prose words."""
    if normalize_text(gold) in ("yes", "no"):
        return True
    return not _has_words(gold) and bool(_mv_parse(gold.replace("$", "")))
