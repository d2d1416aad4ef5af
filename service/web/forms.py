"""Posted forms: text fields only, 64 KiB at most, malformed bodies as a 400 (never a 500)."""
from __future__ import annotations

from fastapi import Request
from starlette.exceptions import HTTPException

from service.errors import bad_request, too_large

FORM_LIMIT = 64 * 1024


async def parse_form(request: Request, max_fields: int = 200) -> dict[str, list[str]]:
    """A posted form's text fields (64 KiB at most, no files); 400/413 as ApiError."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > FORM_LIMIT:
        raise too_large("the form is larger than 64 KiB")
    try:
        form = await request.form(max_files=0, max_fields=max_fields)
    except HTTPException as exc:  # a malformed body: Starlette's 400, shown as a page
        raise bad_request(str(exc.detail)) from None
    fields: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            fields.setdefault(key, []).append(value)
    return fields


def first(fields: dict[str, list[str]], name: str) -> str:
    """A field's first value, or ''."""
    return (fields.get(name) or [""])[0]
