"""Which servers we may call (issues 16 and 20): the allow-lists, and what kind of address a host is.

An allow-list (EHR_ALLOWED_ORIGINS, SUBSCRIPTION_ALLOWED_ORIGINS) lists origins: `https://ehr.example.org`,
a wildcard host `https://*.example.org`, any port `http://127.0.0.1:*`, or `https://*` (the default).
A wildcard reaches public addresses only: loopback, link-local, private (RFC 1918, CGNAT, ULA),
unspecified, multicast and reserved addresses, in any spelling (`127.1`, `2130706433`, `0x7f000001`,
`[::ffff:127.0.0.1]`, `localhost`), are called only when an entry names that host without a wildcard.
Plain http is accepted only for loopback hosts, and only when listed. Pure: no sockets, no DNS.
"""
from __future__ import annotations

import fnmatch
import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

PUBLIC_HTTPS = ("https://*",)  # the default: any https server at a public address
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# A host whose last label is a number is an address to getaddrinfo (inet_aton: `127.1`, `0x7f.1`, `2130706433`).
NUMERIC_LABEL = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)")
INET_ATON_CHARS = re.compile(r"[0-9a-fx.]+")
SHARED = ipaddress.ip_network("100.64.0.0/10")  # RFC 6598 carrier-grade NAT: ipaddress calls it neither
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the IPv4 address is the last 32 bits

# (kind, test): the first that holds names why an address is not one we call unasked.
NOT_PUBLIC = (
    ("loopback", lambda ip: ip.is_loopback),
    ("unspecified", lambda ip: ip.is_unspecified),
    ("link-local", lambda ip: ip.is_link_local),
    ("multicast", lambda ip: ip.is_multicast),
    ("shared (CGNAT)", lambda ip: ip.version == 4 and ip in SHARED),
    ("private", lambda ip: ip.is_private),
    ("reserved", lambda ip: ip.is_reserved),
    ("non-global", lambda ip: not ip.is_global),
)


class Refused(Exception):
    """A call the outbound policy does not make; the text says why (the host and its kind, never a port's state)."""


@dataclass(frozen=True)
class Permit:
    """A URL the policy lets us call: its host (canonical) and whether that host was listed by name
    (then it may resolve to any address) or only matched a wildcard (then every address must be public)."""

    host: str
    listed: bool


def canonical_host(host: str) -> str | None:
    """An address in its one canonical spelling, or a lower-case name; None when it is neither."""
    name = host.lower().strip("[]")
    name = name[:-1] if name.endswith(".") else name
    if ":" in name:
        try:
            return str(ipaddress.IPv6Address(name.replace("%25", "%")))
        except ValueError:
            return None
    if NUMERIC_LABEL.fullmatch(name.rsplit(".", 1)[-1]):
        if not INET_ATON_CHARS.fullmatch(name):
            return None
        try:  # inet_aton reads what getaddrinfo would: decimal, octal, hex and short forms
            return socket.inet_ntoa(socket.inet_aton(name))
        except OSError:
            return None
    return name if name else None


def address_of(host: str) -> IPAddress | None:
    """The IP address a canonical host spells, or None for a name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def kind_of(ip: IPAddress) -> str | None:
    """Why an address is not public (loopback, private, ...), or None when it is."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or ip.sixtofour or (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in NAT64 else None)
        if inner is not None and kind_of(inner):
            return kind_of(inner)
    return next((kind for kind, test in NOT_PUBLIC if test(ip)), None)


def host_kind(host: str) -> str | None:
    """kind_of for a canonical host; `localhost` and `*.localhost` are loopback by name (RFC 6761)."""
    if host == "localhost" or host.endswith(".localhost"):
        return "loopback"
    ip = address_of(host)
    return kind_of(ip) if ip is not None else None


def parse_origins(raw: str) -> tuple[str, ...]:
    """The allow-list, hosts canonical; ValueError names an entry that is not scheme://host[:port]."""
    entries = tuple(e.strip().rstrip("/") for e in raw.replace("\n", ",").split(",") if e.strip())
    parsed = []
    for entry in entries:
        parts = urlsplit(entry.replace("*", "x"))
        if parts.scheme not in ("https", "http") or not parts.hostname or parts.path or parts.query \
                or parts.username is not None:
            raise ValueError(f"{entry!r} is not an origin (scheme://host[:port], '*' allowed in host or port)")
        scheme, rest = entry.split("://", 1)
        host, port = split_host(rest)
        if "*" not in host:
            canonical = canonical_host(host)
            if canonical is None:
                raise ValueError(f"{entry!r}: the host is neither a name nor an address")
            host = canonical
        if parts.scheme == "http" and host_kind(host) != "loopback":
            raise ValueError(f"{entry!r}: plain http is allowed for loopback hosts only")
        parsed.append(f"{scheme.lower()}://{bracket(host.lower())}{port}")
    return tuple(parsed)


def split_host(rest: str) -> tuple[str, str]:
    """host[:port] -> (host without brackets, ':port' or '')."""
    if rest.startswith("["):
        host, _, port = rest[1:].partition("]")
        return host, port
    host, sep, port = rest.partition(":")
    return host, sep + port


def bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def origin_of(url: str) -> str | None:
    """scheme://host[:port] of an absolute http(s) URL with no credentials, host canonical; else None."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.username is not None \
            or parts.password is not None:
        return None
    if not all(c.isascii() and c.isprintable() and not c.isspace() for c in url):
        return None
    host = canonical_host(parts.hostname)
    if host is None:
        return None
    return f"{parts.scheme}://{bracket(host)}" + (f":{port}" if port else "")


def decide(url: str, allowed: tuple[str, ...]) -> Permit:
    """The Permit to call `url` under the allow-list; Refused says why not."""
    origin = origin_of(url)
    if origin is None:
        raise Refused("the URL is not an absolute http(s) URL with a usable host and no credentials")
    scheme, rest = origin.split("://", 1)
    host = split_host(rest)[0]
    if scheme == "http" and host_kind(host) != "loopback":
        raise Refused("plain http is used only to loopback hosts")
    matched = [e for e in allowed if fnmatch.fnmatchcase(origin, e.replace("[", "[[]"))]
    if not matched:
        raise Refused(f"{origin} is not a listed origin")
    listed = any("*" not in split_host(e.split("://", 1)[1])[0] for e in matched)
    kind = host_kind(host)
    if kind and not listed:
        raise Refused(f"{host} is a {kind} address, called only when its origin is listed by name")
    return Permit(host, listed)


def check_addresses(permit: Permit, addresses: list[str]) -> None:
    """At connect time: every address a wildcard-matched name resolves to must be public (DNS rebinding)."""
    if permit.listed:
        return
    for address in addresses:
        ip = address_of(address.split("%", 1)[0])
        kind = kind_of(ip) if ip is not None else "unparsable"
        if kind:
            raise Refused(f"{permit.host} resolves to a {kind} address, called only when its origin is listed by name")


def is_allowed(url: str, allowed: tuple[str, ...]) -> bool:
    """True when the policy would call the URL (the check call sites make before they send a token)."""
    try:
        decide(url, allowed)
    except Refused:
        return False
    return True
