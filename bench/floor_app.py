"""The framework floor for the CRD benchmark: bare FastAPI endpoints parsing the same JSON.

/json parses with the standard library (what a bare FastAPI endpoint does); /orjson with orjson,
the parser the service itself uses, so the stricter floor has the same parsing cost as we do.
"""
import json

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

app = FastAPI()


@app.post("/json/cds-services/besponsa-order-sign")
async def floor_json(request: Request):
    body = json.loads(await request.body())
    return JSONResponse({"cards": [], "hook": body.get("hook")})


@app.post("/orjson/cds-services/besponsa-order-sign")
async def floor_orjson(request: Request):
    body = orjson.loads(await request.body())
    return Response(orjson.dumps({"cards": [], "hook": body.get("hook")}), media_type="application/json")
