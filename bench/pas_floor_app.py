"""The storage floor for Claim/$submit (issue 25): a bare FastAPI endpoint that parses the PAS request Bundle
with orjson and stores it with one INSERT and one COMMIT, into the same kind of database as the service.

DATABASE_URL (PostgreSQL) or DATA_DIR (SQLite, with the service's WAL and synchronous=FULL pragmas, so a
commit is as durable as the service's).
"""
from __future__ import annotations

import os
import threading
import uuid
from contextlib import nullcontext
from pathlib import Path

import orjson
from fastapi import FastAPI, Request
from sqlalchemy import JSON, Column, MetaData, String, Table, create_engine, event, insert
from sqlalchemy.exc import DBAPIError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from service.storage.db import _sqlite_pragmas


def open_engine():
    url = os.environ.get("DATABASE_URL")
    serialize = lambda value: orjson.dumps(value).decode()  # noqa: E731 - the parser's own writer
    if url:
        return create_engine(url, pool_size=10, max_overflow=10, json_serializer=serialize)
    path = Path(os.environ.get("DATA_DIR", "./data")).resolve() / "floor.sqlite3"
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False}, json_serializer=serialize)
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


engine = open_engine()
requests = Table("floor_requests", MetaData(), Column("id", String(64), primary_key=True),
                 Column("identifier", String(512)), Column("bundle", JSON))
try:
    requests.create(engine, checkfirst=True)
except DBAPIError:  # the other worker created it at the same moment
    pass
write_lock = threading.Lock() if engine.dialect.name == "sqlite" else nullcontext()
app = FastAPI()


def store(bundle: dict) -> str:
    """One INSERT, one COMMIT."""
    rid = uuid.uuid4().hex
    ident = bundle.get("identifier") or {}
    with engine.connect() as conn, write_lock:
        conn.execute(insert(requests), {"id": rid, "identifier": f"{ident.get('system')}|{ident.get('value')}",
                                        "bundle": bundle})
        conn.commit()
    return rid


@app.post("/fhir/Claim/$submit")
async def submit(request: Request):
    bundle = orjson.loads(await request.body())
    rid = await run_in_threadpool(store, bundle)
    return Response(orjson.dumps({"resourceType": "ClaimResponse", "id": rid}), media_type="application/fhir+json")


@app.get("/readyz")
async def ready():
    return Response(b'{"status":"ok"}', media_type="application/json")
