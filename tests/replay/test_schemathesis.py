"""Property-based fuzzing of the API from its OpenAPI spec: no server error, responses as documented.

Bounded (a few dozen examples per operation). Path ids are swapped for real ones (and branch turns folded near the
episode length) half of the time, so fuzzed bodies reach the branch/replay logic instead of 404/422.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import HealthCheck, settings

schemathesis = pytest.importorskip(
    "schemathesis", reason="pip install schemathesis (browser extra)"
)
from schemathesis.checks import positive_data_acceptance

from turngym.replay import create_app
from turngym.store import EpisodeStore


@pytest.fixture(scope="module")
def fuzz_app(base_run, tmp_path_factory):
    import shutil

    dst = tmp_path_factory.mktemp("fuzz") / "run"
    shutil.copytree(base_run, dst)
    app = create_app(dst)
    yield app
    app.state.run.close()


@pytest.fixture(scope="module")
def api_schema(fuzz_app):
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)


OPERATIONS = [
    ("GET", "/api/runs"),
    ("GET", "/api/episodes"),
    ("GET", "/api/episodes/{episode_id}"),
    ("GET", "/api/groups/{group_id}"),
    ("GET", "/api/metrics"),
    ("POST", "/api/episodes/{episode_id}/replay"),
    ("POST", "/api/episodes/{episode_id}/branch"),
]


def test_schema_lists_exactly_these_operations(api_schema):
    found = {
        (op.ok().method.upper(), op.ok().path) for op in api_schema.get_all_operations()
    }
    assert found == set(OPERATIONS)


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_no_server_errors(api_schema, fuzz_app, method, path):
    """Drives schemathesis' generated cases directly (its pytest plugin does not load on this pytest)."""
    from hypothesis import given

    store = fuzz_app.state.run.store
    real = store.summaries(limit=1, has_parent=False)[0]
    operation = api_schema[path][method]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def check(case):
        params = case.path_parameters or {}
        key = hashlib.sha256(
            repr((case.path_parameters, case.body, case.query)).encode()
        ).digest()[0]
        if "episode_id" in params and key % 2 == 0:
            params["episode_id"] = real.episode_id
        if "group_id" in params and key % 2 == 0:
            params["group_id"] = real.group_id
        body = case.body
        if (
            key % 2 == 0
            and isinstance(body, dict)
            and isinstance(body.get("turn"), int)
            and not isinstance(body["turn"], bool)
        ):
            body["turn"] %= (
                real.num_turns + 2
            )  # mostly in range, sometimes just past the end
        before = store.get(real.episode_id).to_json()
        # Every default check (no 5xx, documented status codes and response schemas, content types)
        # except "schema-valid data is accepted": a branch turn past the episode's end is valid by the
        # schema and must still be refused with a 422 message (the contract).
        case.call_and_validate(excluded_checks=[positive_data_acceptance])
        assert store.get(real.episode_id).to_json() == before, (
            "a recorded episode was altered"
        )

    check()


def test_fuzzing_reached_the_branch_logic(fuzz_app):
    """Guard against a vacuous fuzz run: with real ids, some fuzzed branches must have succeeded."""
    with EpisodeStore(fuzz_app.state.run.store.path, readonly=True) as store:
        assert store.count(has_parent=True) > 0
