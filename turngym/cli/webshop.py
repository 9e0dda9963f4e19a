"""``turngym webshop``: serve the shop as a web site, write a generated catalog, print statistics.

Module-level imports stay light: the webshop extra is imported inside the commands.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import typer

app = typer.Typer(help="WebShop: the web site, generated catalogs in the upstream schema, statistics.", no_args_is_help=True)

DataDir = typer.Option(None, "--data-dir", help="a folder with the real items_shuffle*/items_ins_v2* files (default: the generated catalog)")
NumProducts = typer.Option(None, "--num-products", "-n", min=1, help="products (generated default 1000; real data: all)")
CatalogSeed = typer.Option(0, help="seed of the generated catalog")
HumanGoals = typer.Option(False, "--human-goals", help="goals from items_human_ins instead of the synthetic ones")
GoalSeed = typer.Option(233, help="seed of goal prices and the goal shuffle (upstream 233; verl-agent 42)")


def _data(data_dir: Path | None, num_products: int | None, catalog_seed: int, human_goals: bool, goal_seed: int):
    from turngym.envs.webshop.data import shop_data

    try:
        return shop_data(data_dir=data_dir, num_products=num_products, catalog_seed=catalog_seed, human_goals=human_goals, goal_seed=goal_seed)
    except ImportError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    except (FileNotFoundError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="interface to listen on"),
    port: int = typer.Option(3000, help="port (upstream uses 3000)"),
    split: str = typer.Option("test", help="goals handed to new sessions: test | eval | train | all"),
    show_attrs: bool = typer.Option(False, "--show-attrs", help="show the Attributes tab on item pages"),
    data_dir: Path | None = DataDir,
    num_products: int | None = NumProducts,
    catalog_seed: int = CatalogSeed,
    human_goals: bool = HumanGoals,
    goal_seed: int = GoalSeed,
) -> None:
    """Serve the shop: open http://HOST:PORT/ to shop, or drive /api/sessions over HTTP."""
    data = _data(data_dir, num_products, catalog_seed, human_goals, goal_seed)
    t0 = time.perf_counter()
    data.search_engine  # index before the first request
    typer.echo(f"WebShop: {len(data.products)} products, {len(data.goals)} goals, index built in {time.perf_counter() - t0:.1f}s")
    typer.echo(f"  shop:  http://{host}:{port}/   (goal i: /fixed_i)\n  agent: POST http://{host}:{port}/api/sessions, then /api/sessions/ID/step")
    from turngym.envs.webshop.server import serve as run

    try:
        run(data, host=host, port=port, split=split, show_attrs=show_attrs)
    except ImportError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc


@app.command()
def generate(
    out: Path = typer.Option(..., help="folder to write items_shuffle_N.json, items_ins_v2_N.json, items_human_ins.json, reviews.json"),
    num_products: int = typer.Option(1000, "--num-products", "-n", min=1, help="number of products"),
    catalog_seed: int = CatalogSeed,
) -> None:
    """Write a generated catalog in upstream's file layout (loadable with ``data_dir=OUT``)."""
    from turngym.envs.webshop.catalog import generate_catalog

    t0 = time.perf_counter()
    cat = generate_catalog(num_products, catalog_seed)
    paths = cat.write(out)
    typer.echo(f"{len(cat.products)} products, {len(cat.human)} with human instructions, {len(cat.reviews)} with reviews in {time.perf_counter() - t0:.1f}s")
    for path in paths.values():
        typer.echo(f"  {path}  ({path.stat().st_size / 1e6:.1f} MB)")


@app.command()
def stats(
    data_dir: Path | None = DataDir,
    num_products: int | None = NumProducts,
    catalog_seed: int = CatalogSeed,
    human_goals: bool = HumanGoals,
    goal_seed: int = GoalSeed,
    oracle: int = typer.Option(0, help="also play the oracle on the first N goals of --split and report score/success"),
    split: str = typer.Option("test", help="split for --oracle"),
) -> None:
    """Products per category, goals per split, options per product; with --oracle N the expert's score."""
    data = _data(data_dir, num_products, catalog_seed, human_goals, goal_seed)
    typer.echo(f"WebShop catalog {data.source}: {len(data.products)} products, {len(data.goals)} {'human' if human_goals else 'synthetic'} goals")
    typer.echo("  per category: " + ", ".join(f"{k}={v}" for k, v in sorted(Counter(p["category"] for p in data.products).items())))
    typer.echo(f"  product types (queries): {len({p['query'] for p in data.products})}")
    n_opts = Counter(len(p["options"]) for p in data.products)
    typer.echo("  option types per product: " + ", ".join(f"{k}={v}" for k, v in sorted(n_opts.items())))
    prices = sorted(data.product_prices.values())
    typer.echo(f"  price: median ${prices[len(prices) // 2]:.2f}, 10%-90% ${prices[len(prices) // 10]:.2f}-${prices[9 * len(prices) // 10]:.2f}")
    typer.echo("  goals per split: " + ", ".join(f"{s}={len(data.split_indices(s))}" for s in ("test", "eval", "train")))
    if oracle <= 0:
        return
    from turngym.envs.webshop.env import WebShopEnv

    env = WebShopEnv(split=split, data_dir=data_dir, num_products=num_products, catalog_seed=catalog_seed, human_goals=human_goals, goal_seed=goal_seed, expert=True)
    n = min(oracle, len(env.task_ids()))
    rewards, steps = [], []
    t0 = time.perf_counter()
    for i in range(n):
        _, info = env.reset(options={"index": i})
        for t in range(1, env.max_turns + 1):
            _, _, terminated, truncated, info = env.step(info["expert_action"])
            if terminated or truncated:
                break
        rewards.append(info.get("task_score", 0.0))
        steps.append(t)
    wins = sum(r == 1.0 for r in rewards)
    typer.echo(
        f"oracle on {n} {split} goals: score {100 * sum(rewards) / n:.1f}, success {100 * wins / n:.1f}% "
        f"({wins}/{n}), mean steps {sum(steps) / n:.2f}, {time.perf_counter() - t0:.1f}s"
    )
