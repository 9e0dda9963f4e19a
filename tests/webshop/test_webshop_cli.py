"""``turngym webshop generate|stats`` (``serve`` runs the site the server and browser tests cover)."""

from __future__ import annotations

from typer.testing import CliRunner

from turngym.cli.main import app


def test_generate_then_stats_and_oracle_on_the_written_files(tmp_path) -> None:
    runner = CliRunner()
    out = runner.invoke(app, ["webshop", "generate", "--out", str(tmp_path), "-n", "200", "--catalog-seed", "5"])
    assert out.exit_code == 0, out.output
    assert (tmp_path / "items_shuffle_200.json").exists() and (tmp_path / "items_ins_v2_200.json").exists()
    out = runner.invoke(app, ["webshop", "stats", "--data-dir", str(tmp_path), "--oracle", "20"])
    assert out.exit_code == 0, out.output
    assert "200 products" in out.output and "per category:" in out.output
    assert "oracle on 20 test goals: score 100.0, success 100.0% (20/20)" in out.output


def test_bad_data_dir_is_a_clear_error(tmp_path) -> None:
    out = CliRunner().invoke(app, ["webshop", "stats", "--data-dir", str(tmp_path / "missing")])
    assert out.exit_code == 2 and "does not exist" in out.output
