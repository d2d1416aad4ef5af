"""The framework floor for the CRD benchmark: FastAPI parsing the same JSON and answering."""
import json

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

app = FastAPI()


@app.post("/cds-services/besponsa-order-sign")
async def floor(request: Request):
    body = json.loads(await request.body())
    return JSONResponse({"cards": [], "hook": body.get("hook")})
