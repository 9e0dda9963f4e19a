"""The episode outside the browser: ``--text`` for the terminal, ``--export`` for a shareable file.

The export is the same page as the live viewer with its CSS/JS inlined and the API responses it
needs (the episode, its group, the run's metrics) embedded as JSON, so it opens from disk with no
server and shows exactly what the live viewer would.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from turngym.core.episode import Episode
from turngym.replay.run import RunDir

STATIC = Path(__file__).parent / "static"


def _fmt(x: Any) -> str:
    if x is None:
        return "–"
    if isinstance(x, list):
        return f"{sum(x) / len(x):.3f} (per-token mean)" if x else "[]"
    return f"{x:.3f}" if isinstance(x, float) else str(x)


#: What the abbreviations of ``episode_text`` mean (printed under its header).
TEXT_LEGEND = (
    "legend: tokens are 'text' (or #id without a tokenizer), m = loss mask (1 trained, 0 env text), "
    "lp = rollout logprob, Δ = trainer minus rollout logprob; advantage None = not trained on"
)


def episode_text(ep: Episode, tokens: list[list[str] | None] | None = None) -> str:
    """A plain-text transcript with the training fields of each turn."""
    lines = [
        f"episode {ep.episode_id}  env {ep.env_id}  task {ep.task_id}  seed {ep.seed}",
        f"run {ep.run_id}  step {ep.step}  group {ep.group_id}"
        + (
            f"  branched from {ep.parent_id} at turn {ep.branch_turn}"
            if ep.parent_id
            else ""
        ),
        f"{'WON' if ep.won else 'FAILED'}  reward {_fmt(ep.outcome_reward)}  turns {len(ep.turns)}"
        + ("  truncated" if ep.truncated else "")
        + (f"  error: {ep.error}" if ep.error else "")
        + (f"  tag {ep.tag}" if ep.tag else ""),
        TEXT_LEGEND,
    ]
    for k, t in enumerate(ep.turns):
        lines.append("")
        lines.append(
            f"── turn {t.index}" + (f" ({t.agent})" if t.agent else "") + f": {t.action!r}"
            + ("" if t.action_valid else " [invalid]")
            + f"  reward {_fmt(t.reward)}"
            f"  advantage {_fmt(t.advantage)}"
            + (
                f"  step_reward {_fmt(t.step_reward)}"
                if t.step_reward is not None
                else ""
            )
        )
        lines.extend("   " + line for line in t.observation.splitlines())
        if t.response_text and t.response_text != t.action:
            lines.append(f"   response: {t.response_text!r}")
        strings = tokens[k] if tokens else None
        if t.response_token_ids:
            parts = []
            for i, tid in enumerate(t.response_token_ids):
                label = repr(strings[i]) if strings else f"#{tid}"
                mask = t.loss_mask[i] if t.loss_mask and i < len(t.loss_mask) else None
                lp = (
                    t.rollout_logprobs[i]
                    if t.rollout_logprobs and i < len(t.rollout_logprobs)
                    else None
                )
                tlp = (
                    t.trainer_logprobs[i]
                    if t.trainer_logprobs and i < len(t.trainer_logprobs)
                    else None
                )
                extra = f" m{mask}" if mask is not None else ""
                extra += f" lp{lp:.2f}" if lp is not None else ""
                extra += (
                    f" Δ{tlp - lp:+.2f}" if lp is not None and tlp is not None else ""
                )
                parts.append(f"{label}{extra}")
            lines.append("   tokens: " + "  ".join(parts))
        if t.tool_calls:
            lines.append(f"   tool calls: {json.dumps(t.tool_calls, default=str)}")
    final = ep.final_observation
    if isinstance(final, str):
        lines += [
            "",
            "── final observation",
            *("   " + line for line in final.splitlines()),
        ]
    return "\n".join(lines)


def export_html(run: RunDir, episode_id: str, out: str | Path) -> Path:
    """Write a self-contained page for ``episode_id`` (with its group and the run plots)."""
    from turngym.replay.app import create_app

    client = TestClient(create_app(run))
    data: dict[str, Any] = {}

    def grab(path: str) -> Any:
        res = client.get(path)
        if res.status_code != 200:
            raise KeyError(res.json().get("detail", f"{path}: HTTP {res.status_code}"))
        data[path] = res.json()
        return data[path]

    from urllib.parse import quote

    def enc(value: str) -> str:  # as the page's encodeURIComponent builds its lookup keys
        return quote(value, safe="-_.!~*'()")

    view = grab(f"/api/episodes/{enc(episode_id)}")
    grab("/api/runs")
    grab("/api/metrics")
    group_id = view["episode"].get("group_id")
    if group_id:
        group = grab(f"/api/groups/{enc(group_id)}")
        for member in group[
            "episodes"
        ]:  # so links from the group view work offline too
            if member["episode_id"] != episode_id:
                grab(f"/api/episodes/{enc(member['episode_id'])}")
    data["__start__"] = f"#/episode/{enc(episode_id)}"
    # Stored text must not end or re-open the <script> element: "</script", "<!--" and "<script"
    # all change how HTML parses a script's content. Every "<" (and ">", "&", the JS line
    # separators) becomes a \u escape, which JSON and JavaScript read back as the same character.
    payload = json.dumps(data, ensure_ascii=False)
    for ch in ("<", ">", "&", "\u2028", "\u2029"):
        payload = payload.replace(ch, f"\\u{ord(ch):04x}")
    css = (STATIC / "style.css").read_text(encoding="utf-8")
    js = (STATIC / "app.js").read_text(encoding="utf-8")
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    html = html.replace(
        '<link rel="stylesheet" href="static/style.css">', f"<style>\n{css}\n</style>"
    )
    html = html.replace(
        '<script src="static/app.js"></script>',
        f"<script>window.TURNGYM_EXPORT = {payload};</script>\n<script>\n{js}\n</script>",
    )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return out
