"""Subscription.channel.header: "Name: value" request headers the subscriber's endpoint needs (e.g. its
Authorization), sent with every handshake, heartbeat and notification (R4 Subscriptions Backport
"REST-Hook"; R4 Subscription.channel.header). They are secrets: an error names the entry by index only,
never its name or value; they are stored apart from the Subscription and never rendered or logged."""
from __future__ import annotations

import re

from service.errors import Issue, problem

PATH = "Subscription.channel.header"
MAX_HEADERS = 16
MAX_ENTRY = 4096  # a bearer JWT is a few hundred bytes to 2 KiB
# RFC 9110 5.1 field-name (a token) ':' optional whitespace, then a field-value of visible ASCII,
# spaces and tabs: no CR, LF, NUL or other control character, so nothing can end the header early.
ENTRY = re.compile(r"([!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}):[ \t]*([\x21-\x7e](?:[\x20-\x7e\t]*[\x21-\x7e])?)[ \t]*")
# Headers that frame or route the message (RFC 9110 7.6.1 hop-by-hop, 8.6 Content-Length, 7.2 Host) or
# that we set ourselves: a subscriber's value would break or smuggle the request, so none is accepted.
REFUSED = frozenset({
    "host", "content-length", "transfer-encoding", "connection", "keep-alive", "proxy-connection", "te",
    "trailer", "upgrade", "proxy-authorization", "proxy-authenticate", "expect", "content-type",
    "content-encoding",
})


def read_headers(value: object, problems: list[Issue]) -> tuple[str, ...]:
    """channel.header as given ("Name: value" each), or problems naming Subscription.channel.header[n]."""
    if value is None:
        return ()
    if not isinstance(value, list):
        problems.append(problem(PATH, "must be an array of strings, each 'Name: value'"))
        return ()
    if len(value) > MAX_HEADERS:
        problems.append(problem(PATH, f"give at most {MAX_HEADERS} headers"))
        return ()
    accepted: list[str] = []
    seen: set[str] = set()
    for i, entry in enumerate(value):
        path = f"{PATH}[{i}]"
        match = ENTRY.fullmatch(entry) if isinstance(entry, str) and len(entry) <= MAX_ENTRY else None
        if not isinstance(entry, str) or len(entry) > MAX_ENTRY:
            problems.append(problem(path, f"must be a string 'Name: value' of at most {MAX_ENTRY} characters"))
        elif match is None:
            problems.append(problem(path, "must be 'Name: value': a header name, a colon and a value of printable "
                                          "ASCII (no CR, LF, NUL or other control characters)"))
        elif match.group(1).lower() in REFUSED:
            problems.append(problem(path, "names a header the server sets or that frames the request (Host, "
                                          "Content-Length, Content-Type, Transfer-Encoding, Connection and other "
                                          "hop-by-hop headers): it cannot be given"))
        elif match.group(1).lower() in seen:
            problems.append(problem(path, "repeats a header name given earlier in channel.header"))
        else:
            seen.add(match.group(1).lower())
            accepted.append(f"{match.group(1)}: {match.group(2)}")
    return tuple(accepted)


def as_request_headers(headers: list[str] | tuple[str, ...] | None) -> dict[str, str]:
    """Stored "Name: value" entries as request headers (they were checked when the Subscription was made)."""
    pairs = (entry.split(":", 1) for entry in headers or ())
    return {name: value.strip() for name, value in pairs}
