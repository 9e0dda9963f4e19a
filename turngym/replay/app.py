"""The FastAPI app: JSON API over a run directory plus the static single-page viewer.

Recorded episodes are never altered: the only write is ``store.write`` of a new branch episode.
Responses go through ``_SafeJSON`` because records legitimately hold ``-inf`` logprobs and NaN
rewards, which standard JSON cannot carry (they become ``null``).
"""

from __future__ import annotations

import contextlib
import math
import threading
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Body, FastAPI, HTTPException, Query
from fastapi import Path as PathParam
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from turngym.replay import policy as policy_mod
from turngym.replay import rerun
from turngym.replay.models import (
    BranchRequest,
    BranchResponse,
    EpisodePage,
    EpisodeRef,
    EpisodeView,
    ErrorBody,
    GroupView,
    MetricsResponse,
    ReplayReport,
    RunOut,
    RunsResponse,
    ValidationErrorBody,
)
from turngym.replay.run import RunDir
from turngym.replay.views import anchor_groups
from turngym.store import ORDER_COLUMNS

STATIC_DIR = Path(__file__).parent / "static"
_INT64 = 2**63 - 1
OrderBy = Literal[ORDER_COLUMNS]  # type: ignore[valid-type]


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


class _SafeJSON(JSONResponse):
    def render(self, content: Any) -> bytes:
        return super().render(_finite(content))


_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "Unknown episode or group id."},
    422: {
        "model": ErrorBody | ValidationErrorBody,
        "description": "Malformed request (a list of validation errors) or a request that cannot be "
        "carried out, e.g. a branch turn out of range (a message).",
    },
}


#: Below this, an advantage is zero up to float noise (shown uncoloured, never as a full-strength one).
ADV_EPS = 1e-6


def _advantage_scale(episodes: list[Any]) -> float:
    biggest = 0.0
    for e in episodes:
        for t in e.turns:
            values = t.advantage if isinstance(t.advantage, list) else [t.advantage]
            for v in values:
                if isinstance(v, int | float) and math.isfinite(v):
                    biggest = max(biggest, abs(float(v)))
    return biggest if biggest > ADV_EPS else 1.0


def _producing_checkpoint(ep: Any) -> str | None:
    """The checkpoint name of the weights that generated ``ep``: a training rollout of step s ran
    the policy after s - 1 updates, an evaluation (tag ``eval``) at step s the one after s."""
    if ep.step is None or ep.run_id in ("", "play"):
        return None
    updates = ep.step if ep.tag == "eval" else ep.step - 1
    if ep.tag == "branch" or updates < 0:
        return None
    return f"checkpoints/step_{updates:06d}"


def create_app(run: RunDir | str | Path) -> FastAPI:
    """The viewer app for one run directory (a ``RunDir`` or a path to open)."""
    run = run if isinstance(run, RunDir) else RunDir(run)
    app = FastAPI(
        title="turngym replay",
        description="Browse, re-run and branch the episodes of a turngym run.",
        version="1",
        default_response_class=_SafeJSON,
    )
    app.state.run = run

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_request: Any, exc: RequestValidationError) -> JSONResponse:
        # the default handler echoes the input, and JSON cannot carry NaN/inf: a body such as
        # {"turn": 1e999} answered 500; the safe encoder turns them into null and it stays a 422
        return _SafeJSON(status_code=422, content={"detail": jsonable_encoder(exc.errors())})
    # One policy branch at a time: a loaded model is shared and generation is not thread-safe.
    policy_lock = threading.Lock()

    def get_episode(episode_id: str) -> Any:
        try:
            return run.store.get(episode_id)
        except KeyError:
            raise HTTPException(404, f"episode {episode_id!r} not found") from None

    @app.get("/api/runs", response_model=RunsResponse)
    def runs() -> RunsResponse:
        gamma, source = run.gamma()
        infos = run.store.runs()
        env_ids = _env_ids(run)
        return RunsResponse(
            run_dir=str(run.path),
            runs=[RunOut(**i.model_dump()) for i in infos],
            env_ids=env_ids,
            num_episodes=sum(i.num_episodes for i in infos),
            checkpoints=sorted(run.checkpoints()),
            tokenizer=str(run.tokenizer_dir()) if run.tokenizer_dir() else None,
            gamma=gamma,
            gamma_source=source,
            readonly=run.readonly,
        )

    @app.get("/api/episodes", response_model=EpisodePage)
    def episodes(
        run_id: str | None = None,
        env_id: str | None = None,
        task_id: str | None = None,
        group_id: str | None = None,
        parent_id: str | None = None,
        won: bool | None = None,
        truncated: bool | None = None,
        has_parent: bool | None = None,
        error: bool | None = Query(
            None, description="true: only episodes that ended with an error"
        ),
        min_reward: Annotated[float | None, Query(allow_inf_nan=False)] = None,
        max_reward: Annotated[float | None, Query(allow_inf_nan=False)] = None,
        min_invalid_rate: Annotated[float | None, Query(allow_inf_nan=False)] = None,
        max_invalid_rate: Annotated[float | None, Query(allow_inf_nan=False)] = None,
        step: Annotated[int | None, Query(ge=-_INT64, le=_INT64)] = None,
        min_step: Annotated[int | None, Query(ge=-_INT64, le=_INT64)] = None,
        max_step: Annotated[int | None, Query(ge=-_INT64, le=_INT64)] = None,
        order_by: OrderBy = "created_at",
        descending: bool = True,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0, le=10**12)] = 0,
    ) -> EpisodePage:
        filters = {
            "run_id": run_id or None,
            "env_id": env_id or None,
            "task_id": task_id or None,
            "group_id": group_id or None,
            "parent_id": parent_id or None,
            "won": won,
            "truncated": truncated,
            "has_parent": has_parent,
            "error": error,
            "min_reward": min_reward,
            "max_reward": max_reward,
            "min_invalid_rate": min_invalid_rate,
            "max_invalid_rate": max_invalid_rate,
            "step": step,
            "min_step": min_step,
            "max_step": max_step,
        }
        items = run.store.summaries(
            order_by=order_by,
            descending=descending,
            limit=limit,
            offset=offset,
            **filters,
        )
        return EpisodePage(
            total=run.store.count(**filters), offset=offset, limit=limit, items=items
        )

    @app.get(
        "/api/episodes/{episode_id:path}", response_model=EpisodeView, responses=_ERRORS
    )
    def episode(episode_id: Annotated[str, PathParam(max_length=200)]) -> EpisodeView:
        ep = get_episode(episode_id)
        parent = None
        if ep.parent_id:
            try:
                parent = _ref(run.store.get(ep.parent_id))
            except KeyError:
                parent = None
        tokens = [run.decode_tokens(t.response_token_ids) for t in ep.turns]
        tok = run.tokenizer()
        return EpisodeView(
            episode=ep,
            tokens=tokens,
            tokenizer=getattr(tok, "name_or_path", None) if tok is not None else None,
            parent=parent,
            branches=run.store.summaries(
                parent_id=ep.episode_id, order_by="created_at"
            ),
            open=rerun.is_open(ep),
            advantage_scale=_advantage_scale(run.store.group(ep.group_id) if ep.group_id else [ep]),
            policy=(name := _producing_checkpoint(ep)),
            policy_kept=name is not None and name in run.checkpoints(),
        )

    @app.get("/api/groups/{group_id:path}", response_model=GroupView, responses=_ERRORS)
    def group(group_id: Annotated[str, PathParam(max_length=200)]) -> GroupView:
        members = run.store.group(group_id)
        if not members:
            raise HTTPException(404, f"group {group_id!r} not found")
        originals = [e for e in members if e.parent_id is None]
        branches = [e for e in members if e.parent_id is not None]
        run_id = members[0].run_id
        gamma, source = run.gamma(run_id)
        return GroupView(
            group_id=group_id,
            episodes=originals,
            branches=run.store.summaries(group_id=group_id, has_parent=True)
            if branches
            else [],
            gamma=gamma,
            gamma_source=source,
            anchor_groups=anchor_groups(originals, gamma),
        )

    @app.get("/api/metrics", response_model=MetricsResponse)
    def metrics() -> MetricsResponse:
        rows, problems = run.metrics()
        keys = sorted(
            {
                k
                for r in rows
                for k, v in r.items()
                if isinstance(v, int | float) and not isinstance(v, bool)
            }
        )
        return MetricsResponse(rows=rows, keys=keys, problems=problems)

    @app.post(
        "/api/episodes/{episode_id:path}/replay",
        response_model=ReplayReport,
        responses=_ERRORS,
    )
    def replay(episode_id: Annotated[str, PathParam(max_length=200)]) -> ReplayReport:
        ep = get_episode(episode_id)
        try:
            result = rerun.replay_episode(ep)
        except rerun.ReplayError as exc:
            raise HTTPException(422, str(exc)) from None
        return ReplayReport.model_validate(result, from_attributes=True)

    @app.post(
        "/api/episodes/{episode_id:path}/branch",
        response_model=BranchResponse,
        status_code=201,
        responses={**_ERRORS, 409: {"model": ErrorBody}, 501: {"model": ErrorBody}},
    )
    def branch(
        episode_id: Annotated[str, PathParam(max_length=200)],
        body: Annotated[BranchRequest, Body()],
    ) -> BranchResponse:
        ep = get_episode(episode_id)
        if run.readonly:
            raise HTTPException(
                409, "the viewer was opened readonly; branches cannot be stored"
            )
        reason = rerun.check_branch_turn(ep, body.turn)
        if reason:
            raise HTTPException(422, reason)
        agent = None
        source: dict[str, Any] = {"kind": "typed", "action": body.action}
        if body.policy is not None:
            ckpts = run.checkpoints()
            if body.policy not in ckpts:
                known = ", ".join(sorted(ckpts)) or "none in this run"
                raise HTTPException(
                    422,
                    f"unknown policy checkpoint {body.policy!r}; available: {known}",
                )
            try:
                agent = policy_mod.load_agent(
                    ckpts[body.policy], env_id=ep.env_id, config=run.config
                )
            except policy_mod.PolicyUnavailable as exc:
                raise HTTPException(501, str(exc)) from None
            except policy_mod.PolicyLoadError as exc:
                raise HTTPException(422, str(exc)) from None
            source = {"kind": "policy", "policy": body.policy}
        try:
            with policy_lock if agent is not None else contextlib.nullcontext():
                child = rerun.branch(
                    ep,
                    body.turn,
                    action=body.action,
                    agent=agent,
                    max_turns=body.max_turns,
                    source=source,
                )
        except rerun.BranchConflict as exc:
            raise HTTPException(409, str(exc)) from None
        except (rerun.ReplayError, ValueError) as exc:
            raise HTTPException(422, str(exc)) from None
        run.store.write(child)
        summary = next(
            s
            for s in run.store.summaries(parent_id=ep.episode_id)
            if s.episode_id == child.episode_id
        )
        return BranchResponse(
            episode_id=child.episode_id,
            parent_id=ep.episode_id,
            branch_turn=body.turn,
            num_turns=len(child.turns),
            done=not child.meta["branch"]["open"],
            final_observation=child.final_observation,
            summary=summary,
        )

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(
            STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"}
        )

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def _env_ids(run: RunDir) -> list[str]:
    """Registered env ids that have episodes in the store (indexed counts; the store has no DISTINCT)."""
    from turngym.envs.registration import list_envs

    return [
        env_id
        for env_id in sorted(spec.id for spec in list_envs())
        if run.store.count(env_id=env_id) > 0
    ]


def _ref(ep: Any) -> EpisodeRef:
    return EpisodeRef(
        episode_id=ep.episode_id,
        won=ep.won,
        outcome_reward=ep.outcome_reward,
        num_turns=len(ep.turns),
        parent_id=ep.parent_id,
        branch_turn=ep.branch_turn,
    )
