"""``turngym sandbox serve``: the local backend behind the SandboxFusion ``/run_code`` schema.

Remote rollout workers share one sandbox host this way, with any SandboxFusion client or with
:class:`~turngym.sandbox.fusion.FusionBackend`. Sessions live under ``/turngym/sessions`` (an
extension); they are owned by the server process and closed when it stops or after ``session_ttl_s``
without use.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from typing import Any

from .base import Backend, Session
from .errors import SandboxError, SessionLost
from .fusion import from_fusion_request, session_params, to_fusion_response
from .result import ExecResult

SUPPORTED_LANGUAGES = ("python", "python3")


def create_app(backend: Backend | None = None, *, max_sessions: int = 64, session_ttl_s: float = 1800.0) -> Any:
    """FastAPI app serving ``backend`` (a new LocalBackend when None, closed at shutdown)."""
    from contextlib import asynccontextmanager

    from fastapi import Body, FastAPI, HTTPException
    from fastapi.responses import PlainTextResponse

    state: dict[str, Any] = {"backend": backend, "owned": backend is None}
    sessions: dict[str, tuple[Session, float]] = {}
    lock = threading.Lock()

    def get_backend() -> Backend:
        if state["backend"] is None:
            from .local import LocalBackend

            state["backend"] = LocalBackend()
        return state["backend"]

    def expire() -> None:
        now = time.monotonic()
        with lock:
            stale = [k for k, (_, t) in sessions.items() if now - t > session_ttl_s]
            for k in stale:
                sessions.pop(k)[0].close()

    @asynccontextmanager
    async def lifespan(app: Any):
        await asyncio.to_thread(get_backend)
        yield
        with lock:
            for s, _ in sessions.values():
                s.close()
            sessions.clear()
        if state["owned"] and state["backend"] is not None:
            state["backend"].close()

    app = FastAPI(title="turngym sandbox (SandboxFusion-compatible)", lifespan=lifespan)

    def parse(body: Any) -> dict[str, Any] | dict[str, str]:
        lang = body.get("language", "python") if isinstance(body, dict) else None
        if lang not in SUPPORTED_LANGUAGES:
            return {"error": f"language {lang!r} is not supported by this server (only python)"}
        try:
            return from_fusion_request(body)
        except (ValueError, TypeError) as exc:
            return {"error": str(exc)}

    @app.get("/v1/ping", response_class=PlainTextResponse)
    async def ping() -> str:
        return "pong"

    @app.get("/turngym/capabilities")
    async def caps() -> dict[str, Any]:
        return get_backend().capabilities()

    @app.post("/run_code")
    async def run_code(body: Any = Body(...)) -> dict[str, Any]:
        kw = parse(body)
        if "error" in kw:
            return to_fusion_response(ExecResult.sandbox_error(kw["error"]))
        try:
            r = await get_backend().arun(**kw)
        except (ValueError, TypeError) as exc:
            r = ExecResult.sandbox_error(f"invalid request: {exc}")
        return to_fusion_response(r)

    @app.post("/turngym/sessions")
    async def open_session(body: Any = Body(default={})) -> dict[str, str]:
        """422 for parameters the backend would refuse (named in the detail), 503 when it cannot start one."""
        expire()
        with lock:
            if len(sessions) >= max_sessions:
                raise HTTPException(429, f"too many open sessions ({max_sessions})")
        try:
            s = await get_backend().asession(**session_params(body))
        except (ValueError, TypeError) as exc:
            raise HTTPException(422, f"invalid session parameters: {exc}") from None
        except SandboxError as exc:
            raise HTTPException(503, f"could not open a sandbox session: {exc}") from None
        sid = uuid.uuid4().hex
        with lock:
            sessions[sid] = (s, time.monotonic())
        return {"session_id": sid}

    @app.post("/turngym/sessions/{sid}/run_code")
    async def session_run(sid: str, body: Any = Body(...)) -> dict[str, Any]:
        with lock:
            entry = sessions.get(sid)
            if entry is not None:
                sessions[sid] = (entry[0], time.monotonic())
        if entry is None:
            raise HTTPException(404, f"no session {sid}")
        kw = parse(body)
        if "error" in kw:
            return to_fusion_response(ExecResult.sandbox_error(kw["error"]))
        kw.pop("memory_mb", None)
        try:
            r = await entry[0].arun(**kw)
        except (ValueError, TypeError) as exc:  # arguments the session refuses (a timeout past its maximum...)
            return to_fusion_response(ExecResult.sandbox_error(f"invalid request: {exc}"))
        except SessionLost:
            with lock:
                sessions.pop(sid, None)
            raise HTTPException(404, f"session {sid} was lost") from None
        if r.session_lost:
            with lock:
                sessions.pop(sid, None)
            entry[0].close()
        return to_fusion_response(r)

    @app.delete("/turngym/sessions/{sid}")
    async def close_session(sid: str) -> dict[str, bool]:
        with lock:
            entry = sessions.pop(sid, None)
        if entry is None:
            raise HTTPException(404, f"no session {sid}")
        await entry[0].aclose()
        return {"closed": True}

    return app


def serve(host: str = "127.0.0.1", port: int = 8080, backend: Backend | None = None, log_level: str = "info", *,
          token: str | None = None, allow_hosts: tuple[str, ...] = ()) -> None:
    """Serve with the ``Host`` check (DNS rebinding) always on, and ``token`` guarding every write when
    ``host`` is beyond loopback (the server runs code for whoever can reach it)."""
    import uvicorn

    from turngym.httpguard import guard

    app = guard(create_app(backend), bind_host=host, token=token, allow_hosts=allow_hosts)
    uvicorn.run(app, host=host, port=port, log_level=log_level)
