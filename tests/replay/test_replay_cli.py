"""``turngym replay``: the terminal transcript, the HTML export, the server command, bad input."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from turngym.cli.main import app
from turngym.store import EpisodeStore

runner = CliRunner(env={"COLUMNS": "240", "TERMINAL_WIDTH": "240"})


def _episode(run_dir: Path):
    with EpisodeStore(run_dir, readonly=True) as store:
        return store.query(won=False, limit=1)[0]


def test_text_prints_the_episode_turn_by_turn(run_dir):
    ep = _episode(run_dir)
    res = runner.invoke(
        app, ["replay", str(run_dir), "--episode", ep.episode_id, "--text"]
    )
    assert res.exit_code == 0, res.output
    assert ep.episode_id in res.output and "FAILED" in res.output
    assert len(re.findall(r"── turn \d+:", res.output)) == len(ep.turns)
    assert repr(ep.turns[0].action) in res.output
    assert "'<|endoftext|>' m0" in res.output  # decoded tokens with their loss mask


def test_export_writes_a_self_contained_page(run_dir, tmp_path):
    ep = _episode(run_dir)
    out = tmp_path / "share" / "ep.html"
    res = runner.invoke(
        app, ["replay", str(run_dir), "--episode", ep.episode_id, "--export", str(out)]
    )
    assert res.exit_code == 0, res.output
    html = out.read_text()
    assert "static/app.js" not in html and "static/style.css" not in html  # inlined
    assert not re.search(
        r"<(script|link)[^>]+(src|href)=\"https?://", html
    )  # nothing fetched
    payload = html.split("window.TURNGYM_EXPORT = ", 1)[1].split(";</script>", 1)[0]
    data = json.loads(payload.replace("<\\/", "</"))
    assert (
        data[f"/api/episodes/{ep.episode_id}"]["episode"]["episode_id"] == ep.episode_id
    )
    assert f"/api/groups/{ep.group_id}" in data and "/api/metrics" in data


def test_bad_arguments_give_clear_errors(run_dir, tmp_path):
    res = runner.invoke(app, ["replay", str(run_dir), "--episode", "nope", "--text"])
    assert res.exit_code == 1 and "not found" in res.output
    res = runner.invoke(app, ["replay", str(run_dir), "--text"])
    assert res.exit_code != 0 and "--episode" in res.output
    res = runner.invoke(app, ["replay", str(tmp_path / "missing")])
    assert res.exit_code != 0 and "does not exist" in res.output
    (tmp_path / "empty").mkdir()
    res = runner.invoke(
        app, ["replay", str(tmp_path / "empty"), "--episode", "x", "--text"]
    )
    assert res.exit_code == 1 and "cannot open" in res.output


def test_serve_command_answers_http(run_dir):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "turngym.cli.main",
            "replay",
            str(run_dir),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                res = httpx.get(f"http://127.0.0.1:{port}/api/runs", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read().decode()
                assert time.monotonic() < deadline, "server did not come up"
                time.sleep(0.2)
        assert res.status_code == 200 and res.json()["num_episodes"] == 26
        assert (
            "turngym replay" in httpx.get(f"http://127.0.0.1:{port}/", timeout=5).text
        )
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
