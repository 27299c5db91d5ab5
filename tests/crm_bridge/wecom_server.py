"""A WeCom (企业微信) external-contact API contract server for the adapter tests, written from
../shared/WECOM.md only (by a helper that had not seen the adapter).

Why: the adapter must be tested against WeCom's real answer shapes (HTTP 200 + errcode), its
token lifecycle, its tag catalogue rules and its failure modes (rate limits, 5xx, a response lost
after the call was applied) without reaching qyapi.weixin.qq.com.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

Json = dict[str, Any]
Script = int | tuple[str, Any]


def _err(code: int, msg: str) -> Json:
    return {"errcode": code, "errmsg": msg}


class WeComContractServer:
    """In-memory corp: employees, customers, (employee, customer) relations, tag catalogue."""

    def __init__(
        self,
        corpid: str = "corp-1",
        secret: str = "secret-1",
        limit_per_min: int | None = None,
        stall_seconds: float = 10.0,
    ) -> None:
        self.corpid, self.secret = corpid, secret
        self.limit_per_min = limit_per_min
        self.stall_seconds = stall_seconds
        self.clock: Callable[[], float] = time.monotonic  # overridable for rate-limit tests
        self.lock = threading.RLock()
        self.token_calls = 0
        self.tokens: dict[str, bool] = {}  # token -> still valid
        self.groups: dict[str, Json] = {}  # group_id -> {group_name, create_time, order}
        self.tags: dict[str, Json] = {}  # tag_id -> {name, group_id, create_time, order, deleted}
        self.created_by_app: set[str] = set()  # tag ids created through add_corp_tag
        self.employees: set[str] = set()
        self.owners: dict[str, str] = {}  # external_userid -> current owner userid
        self.relations: dict[tuple[str, str], set[str]] = {}  # (userid, ext) -> tag ids
        self.effects: list[Json] = []  # applied writes only (mark_tag, transfer)
        self.calls: list[tuple[str, Json, str | None]] = []  # every request received
        self.scripts: dict[str, deque[Script]] = {}
        self._arrivals: deque[float] = deque()
        self._seq = 0
        self._closing = threading.Event()

    # ---- test helpers -------------------------------------------------------------------
    def add_employee(self, userid: str) -> None:
        with self.lock:
            self.employees.add(userid)

    def add_contact(self, external_userid: str, owner_userid: str) -> None:
        """Create the (owner, customer) relation; the latest one added is the owner."""
        with self.lock:
            self.employees.add(owner_userid)
            self.owners[external_userid] = owner_userid
            self.relations.setdefault((owner_userid, external_userid), set())

    def owner_of(self, external_userid: str) -> str | None:
        with self.lock:
            return self.owners.get(external_userid)

    def relation_tags(self, userid: str, external_userid: str) -> set[str]:
        """Tag NAMES on the relation (empty if no relation)."""
        with self.lock:
            ids = self.relations.get((userid, external_userid), set())
            return {self.tags[t]["name"] for t in ids if not self.tags[t]["deleted"]}

    def _find(self, name: str, group_name: str | None) -> list[str]:
        return [
            tid
            for tid, t in self.tags.items()
            if t["name"] == name
            and not t["deleted"]
            and group_name in (None, self.groups[t["group_id"]]["group_name"])
        ]

    def tag_id(self, name: str, group_name: str | None = None) -> str | None:
        """The live id of a tag name (first match), for tests building bodies."""
        with self.lock:
            return next(iter(self._find(name, group_name)), None)

    def delete_tag(self, name: str, group_name: str | None = None) -> list[str]:
        """As if deleted in the console: the id turns invalid (40068), leaves catalogue and relations."""
        with self.lock:
            gone = self._find(name, group_name)
            for tid in gone:
                self.tags[tid]["deleted"] = True
                for ids in self.relations.values():
                    ids.discard(tid)
            return gone

    def add_foreign_tag(self, group_name: str, name: str) -> str:
        """A tag another app (or an admin) created: not in created_by_app."""
        with self.lock:
            return self._new_tag(self._group_by_name(group_name, create=True), name)

    def expire_tokens(self) -> None:
        """Every token issued so far answers 42001 from now on."""
        with self.lock:
            for tok in self.tokens:
                self.tokens[tok] = False

    def script(self, path_suffix: str, *responses: Script) -> None:
        """Queue answers for the next calls whose path ends with path_suffix (see module doc)."""
        with self.lock:
            self.scripts.setdefault(path_suffix, deque()).extend(responses)

    # ---- internals ------------------------------------------------------------------------
    def _next_id(self, prefix: str) -> str:
        self._seq += 1
        return f"{prefix}{self._seq}"

    def _group_by_name(self, group_name: str, create: bool) -> str | None:
        for gid, g in self.groups.items():
            if g["group_name"] == group_name:
                return gid
        if not create:
            return None
        gid = self._next_id("etgrp")
        self.groups[gid] = {
            "group_name": group_name,
            "create_time": int(time.time()),
            "order": len(self.groups),
        }
        return gid

    def _new_tag(self, gid: str | None, name: str) -> str:
        assert gid is not None
        tid = self._next_id("ettag")
        order = sum(1 for t in self.tags.values() if t["group_id"] == gid)
        self.tags[tid] = {
            "name": name,
            "group_id": gid,
            "create_time": int(time.time()),
            "order": order,
            "deleted": False,
        }
        return tid

    def _live(self, tid: Any) -> bool:
        return isinstance(tid, str) and tid in self.tags and not self.tags[tid]["deleted"]

    def _record(self, path: str, body: Json, token: str | None) -> None:
        with self.lock:
            self.calls.append((path, body, token))
            if not path.endswith("gettoken"):
                self._arrivals.append(self.clock())

    def _pop_script(self, path: str) -> Script | None:
        with self.lock:
            for suffix, queue in self.scripts.items():
                if queue and path.endswith(suffix):
                    return queue.popleft()
            return None

    def _rate_limited(self) -> bool:
        """Rolling 60 s window over arrivals (rejected ones count too, as WeCom's budget does)."""
        with self.lock:
            if self.limit_per_min is None:
                return False
            now = self.clock()
            while self._arrivals and self._arrivals[0] <= now - 60:
                self._arrivals.popleft()
            return len(self._arrivals) > self.limit_per_min

    def _token_error(self, token: str | None) -> Json | None:
        with self.lock:
            if not token:
                return _err(41001, "access_token missing")
            if token not in self.tokens:
                return _err(40014, "invalid access_token")
            if not self.tokens[token]:
                return _err(42001, "access_token expired")
            return None

    async def _stall(self) -> None:
        """Hold the answer past the client's timeout; cut short when the server shuts down."""
        end = time.monotonic() + self.stall_seconds
        while time.monotonic() < end and not self._closing.is_set():
            await asyncio.sleep(0.05)

    # ---- endpoint logic (called with a valid token, not scripted) --------------------------
    def gettoken(self, corpid: str | None, secret: str | None) -> Json:
        with self.lock:
            if corpid != self.corpid or secret != self.secret:
                return _err(40001, "invalid credential")
            self.token_calls += 1
            tok = f"tok-{self.token_calls}"
            self.tokens[tok] = True
            return {**_err(0, "ok"), "access_token": tok, "expires_in": 7200}

    def get_corp_tag_list(self, body: Json) -> Json:
        """group_id wins over tag_id when both are given (WeCom's documented rule)."""
        with self.lock:
            want_groups, want_tags = body.get("group_id") or [], body.get("tag_id") or []
            out: list[Json] = []
            for gid, g in self.groups.items():
                if want_groups and gid not in want_groups:
                    continue
                tags = [
                    {
                        "id": tid,
                        "name": t["name"],
                        "create_time": t["create_time"],
                        "order": t["order"],
                        "deleted": False,
                    }
                    for tid, t in self.tags.items()
                    if t["group_id"] == gid
                    and not t["deleted"]
                    and (want_groups or not want_tags or tid in want_tags)
                ]
                if tags or not want_tags or want_groups:
                    out.append({"group_id": gid, **g, "tag": tags})
            return {**_err(0, "ok"), "tag_group": out}

    def add_corp_tag(self, body: Json) -> Json:
        with self.lock:
            raw = [t.get("name") for t in body.get("tag") or [] if isinstance(t, dict)]
            names: list[str] = [n for n in raw if isinstance(n, str) and n]
            if not names or len(names) != len(raw):
                return _err(40058, "invalid tag name")
            if body.get("group_id"):
                gid = body["group_id"]
                if gid not in self.groups:
                    return _err(40068, "invalid group id")
            elif body.get("group_name"):
                gid = self._group_by_name(body["group_name"], create=False)
            else:
                return _err(40058, "group_id or group_name required")
            existing = {
                t["name"]
                for t in self.tags.values()
                if gid is not None and t["group_id"] == gid and not t["deleted"]
            }
            if len(set(names)) != len(names) or existing & set(names):
                return _err(40071, "UserTag Name Already Exist")
            if gid is None:
                gid = self._group_by_name(body["group_name"], create=True)
            assert gid is not None
            created = []
            for name in names:
                tid = self._new_tag(gid, name)
                self.created_by_app.add(tid)
                t = self.tags[tid]
                created.append(
                    {"id": tid, "name": name, "create_time": t["create_time"], "order": t["order"]}
                )
            return {
                **_err(0, "ok"),
                "tag_group": {"group_id": gid, **self.groups[gid], "tag": created},
            }

    def mark_tag(self, body: Json) -> Json:
        with self.lock:
            uid, ext = body.get("userid"), body.get("external_userid")
            add, remove = list(body.get("add_tag") or []), list(body.get("remove_tag") or [])
            if uid not in self.employees:
                return _err(40003, "invalid userid")
            if ext not in self.owners or (uid, ext) not in self.relations:
                return _err(84061, "not external contact")
            if not add and not remove:
                return _err(40058, "add_tag or remove_tag required")
            if not all(self._live(t) for t in add + remove):
                return _err(40068, "invalid tagid")
            ids = self.relations[(uid, ext)]
            ids.difference_update(remove)
            ids.update(add)
            self.effects.append(
                {
                    "kind": "mark_tag",
                    "userid": uid,
                    "external_userid": ext,
                    "add": add,
                    "remove": remove,
                }
            )
            return _err(0, "ok")

    def transfer_customer(self, body: Json) -> Json:
        with self.lock:
            hand, take = body.get("handover_userid"), body.get("takeover_userid")
            if hand not in self.employees or take not in self.employees:
                return _err(40003, "invalid userid")
            results: list[Json] = []
            for ext in body.get("external_userid") or []:
                if ext not in self.owners:
                    code = 40096
                elif (hand, ext) not in self.relations:
                    code = 84061
                else:
                    code = 0
                    tags = self.relations.pop((hand, ext))
                    self.relations.setdefault((take, ext), set()).update(tags)
                    self.owners[ext] = take
                    self.effects.append(
                        {
                            "kind": "transfer",
                            "handover_userid": hand,
                            "takeover_userid": take,
                            "external_userid": ext,
                        }
                    )
                results.append({"external_userid": ext, "errcode": code})
            return {**_err(0, "ok"), "customer": results}


def make_app(state: WeComContractServer) -> FastAPI:
    """Routes share one pipeline: record -> script -> rate limit -> token -> apply."""
    app = FastAPI()
    base = "/cgi-bin/externalcontact/"
    handlers: dict[str, Callable[[Json], Json]] = {
        "get_corp_tag_list": state.get_corp_tag_list,
        "add_corp_tag": state.add_corp_tag,
        "mark_tag": state.mark_tag,
        "transfer_customer": state.transfer_customer,
    }

    async def scripted(path: str) -> tuple[JSONResponse | None, bool]:
        """Returns (early answer, drop-after-apply flag)."""
        step = state._pop_script(path)
        if isinstance(step, int):
            return JSONResponse(_err(step, "scripted")), False
        if step is None:
            return None, False
        kind, arg = step
        if kind == "http":
            return JSONResponse(_err(-1, "scripted http error"), status_code=int(arg)), False
        if kind == "delay":
            await asyncio.sleep(float(arg))
            return None, False
        if kind == "apply_then_drop":
            return None, True
        raise ValueError(f"unknown scripted response {step!r}")

    @app.get("/cgi-bin/gettoken")
    async def gettoken(request: Request) -> JSONResponse:
        q = request.query_params
        state._record(request.url.path, {"corpid": q.get("corpid")}, None)  # never the secret
        early, drop = await scripted(request.url.path)
        if early is not None:
            return early
        answer = state.gettoken(q.get("corpid"), q.get("corpsecret"))
        if drop:
            await state._stall()
        return JSONResponse(answer)

    async def endpoint(request: Request, name: str) -> JSONResponse:
        path, token = request.url.path, request.query_params.get("access_token")
        raw = await request.body()
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            body = None
        state._record(
            path, body if isinstance(body, dict) else {"_raw": raw.decode(errors="replace")}, token
        )
        early, drop = await scripted(path)
        if early is not None:
            return early
        if state._rate_limited():
            return JSONResponse(_err(45009, "api freq out of limit"))
        if (bad := state._token_error(token)) is not None:
            return JSONResponse(bad)
        if not isinstance(body, dict):
            return JSONResponse(_err(47001, "data format error"))
        answer = handlers[name](body)
        if drop:
            await state._stall()
        return JSONResponse(answer)

    for name in handlers:

        async def route(request: Request, _name: str = name) -> JSONResponse:
            return await endpoint(request, _name)

        app.add_api_route(base + name, route, methods=["POST"])
    return app


@contextlib.contextmanager
def serve(state: WeComContractServer) -> Iterator[str]:
    """Run the app on 127.0.0.1:<free port> in a daemon thread; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        make_app(state), log_level="warning", lifespan="off", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    state._closing.clear()
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("WeCom contract server failed to start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        state._closing.set()  # release stalled answers so shutdown is quick
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
