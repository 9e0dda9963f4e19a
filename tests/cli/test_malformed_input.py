"""Issue 20.4: every malformed config or CLI input exits non-zero with a one-paragraph message
naming the file or flag, never a Python traceback (and nothing is rolled out or written)."""

import pytest
from typer.testing import CliRunner

from cli_helpers import CONFIG, turngym_cli
from turngym.cli.main import app
from turngym.store import EpisodeStore

NOWHERE = "/proc/nonexistent/out"  # a path no process can create, root included


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    (d / "broken.yaml").write_text("run: {steps: [1,\n")
    (d / "binary.yaml").write_bytes(bytes(range(256)) * 4)
    (d / "list.yaml").write_text("- just\n- a list\n")
    # the billion-laughs shape: 12 levels of 10 aliases each would expand to 10**12 nodes
    levels = ["a0: &a0 [" + ", ".join(["lol"] * 10) + "]"]
    levels += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 12)]
    (d / "bomb.yaml").write_text("\n".join(levels) + "\ndescription: *a11\n")
    (d / "garbage").write_text("not a database, just text\n" * 100)
    (d / "a_file").write_text("x")
    (d / "games").mkdir()
    store = d / "store"
    result = CliRunner().invoke(app, ["rollout", "KeyDoor-v0", "-n", "1", "--out", str(store)])
    assert result.exit_code == 0, result.output
    with EpisodeStore(store, readonly=True) as s:
        episode = s.summaries()[0].episode_id
    return {"dir": d, "store": store, "episode": episode}


# (argv with {placeholders}, what the message must name)
CASES = [
    (["train", "{dir}/broken.yaml", "--dry-run"], "broken.yaml is not valid YAML at line 2"),
    (["train", "{dir}/binary.yaml", "--dry-run"], "binary.yaml is not UTF-8 text"),
    (["train", "{dir}/list.yaml", "--dry-run"], "list.yaml must hold a mapping"),
    (["train", "{dir}", "--dry-run"], "is a directory, not a YAML file"),
    (["train", "{dir}/bomb.yaml", "--dry-run"], "bomb.yaml uses 111 YAML aliases"),
    (["train", str(CONFIG), "--dry-run", "run.steps=[1,"], "override 'run.steps=[1,' is not valid YAML"),
    (["train", str(CONFIG), "--dry-run", "algo.params.nosuch=1"], "algo.params: gigpo has no parameter(s) nosuch"),
    (["check", "KeyDoor-v0", "-e", "size=[1,"], "-e/--env-arg 'size=[1,': the value is not valid YAML"),
    (["play", "KeyDoor-v0", "--seed", "-1"], "--seed"),
    (["play", "KeyDoor-v0", "--out", "{dir}/garbage"], "--out {dir}/garbage"),
    (["rollout", "KeyDoor-v0", "--group", "0"], "--group"),
    (["rollout", "KeyDoor-v0", "-n", "-1"], "'-n'"),
    (["rollout", "KeyDoor-v0", "--split", "nosuch"], "--split nosuch"),
    (["rollout", "KeyDoor-v0", "-n", "1", "--out", "{dir}/garbage"], "--out {dir}/garbage"),
    (["rollout", "KeyDoor-v0", "-n", "1", "--out", NOWHERE], f"--out {NOWHERE}"),
    (["model", "init", "--out", "{dir}/a_file"], "--out {dir}/a_file is a file"),
    (["alfworld", "generate", "--split", "nosuch", "--out", "{dir}/alf"], "--split nosuch"),
    (["alfworld", "stats", "--split", "nosuch"], "--split nosuch"),
    (["alfworld", "stats", "--games-dir", "{dir}/no_such_games"], "--games-dir {dir}/no_such_games"),
    (["sandbox", "bench", "--n", "0"], "--n"),
    (["sandbox", "bench", "--n", "-1"], "--n"),
    (["sandbox", "bench", "--workers", "0"], "--workers"),
    (["sandbox", "serve", "--port", "99999"], "--port"),
    (["sandbox", "serve", "--workers", "0"], "--workers"),
    (["sandbox", "serve", "--timeout", "-1"], "--timeout"),
    (["replay", "{store}", "--export", "{dir}", "--episode", "{episode}"], "--export {dir} is a directory"),
    (["replay", "{store}", "--export", NOWHERE + ".html", "--episode", "{episode}"], f"--export {NOWHERE}.html"),
    (["replay", "{store}", "--port", "99999"], "--port"),
]


@pytest.mark.parametrize("argv,names", CASES, ids=[" ".join(a)[:60] for a, _ in CASES])
def test_malformed_input_gets_one_paragraph(files, argv, names):
    argv = [a.format(**files) for a in argv]
    names = names.format(**files)
    result = CliRunner().invoke(app, argv, env={"COLUMNS": "400"})
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)  # no escaped exception
    text = " ".join(result.output.replace("│", " ").split())
    assert names in text, text
    assert "Traceback" not in result.output
    paragraph = [line for line in result.output.splitlines() if line.strip(" │╭╮╰╯─")]
    assert len(paragraph) <= 6, result.output  # a usage box or an error line, not a report


def test_through_the_console_script(files):
    """The same through the real entry point: exit status 2 and one paragraph on stderr."""
    for argv, names in [(["train", f"{files['dir']}/bomb.yaml", "--dry-run"], "YAML aliases"),
                        (["rollout", "KeyDoor-v0", "-n", "-1"], "-n")]:
        proc = turngym_cli(*argv)
        assert proc.returncode == 2 and names in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
