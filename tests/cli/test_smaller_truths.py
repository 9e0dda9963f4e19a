"""Issue 18.8: the smaller truths (public names of turngym.agents, the --text legend)."""

from cli_helpers import turngym_cli


def test_agents_exports_its_public_names():
    import turngym.agents as agents

    assert agents.__doc__ and "RolloutEngine" in agents.__doc__
    for name in ("RolloutEngine", "make_tasks", "TaskSpec", "LLMAgent", "HFBackend", "VLLMBackend", "OpenAIBackend", "SamplingParams", "PolicyBackend"):
        assert name in agents.__all__ and getattr(agents, name) is not None, name
    from turngym.agents.backends.hf import HFBackend

    assert agents.HFBackend is HFBackend


def test_text_output_has_a_legend(tmp_path):
    out = tmp_path / "run"
    assert turngym_cli("rollout", "KeyDoor-v0", "-n", "1", "--out", out).returncode == 0
    from turngym.store import EpisodeStore

    with EpisodeStore(out, readonly=True) as store:
        eid = store.summaries()[0].episode_id
    proc = turngym_cli("replay", out, "--text", "--episode", eid)
    assert proc.returncode == 0 and "legend:" in proc.stdout and "m = loss mask" in proc.stdout


def test_compute_advantages_says_why_its_default_preset_differs():
    from turngym.algos import compute_advantages

    assert "shipped training configs choose ``reference``" in " ".join(compute_advantages.__doc__.split())
