"""Which input names are live sources, and how a live source is named in records.

A live source is a network stream FFmpeg opens (``rtsp://``, ``rtmp://``,
``http(s)://``, ``tcp://``, ``udp://``, ``srt://`` and their TLS variants), a V4L2
camera (``/dev/video0``, ``/dev/v4l/by-id/...``), or ``-``: a stream piped on
standard input. Nothing here imports PyAV: the command line asks these questions
before it loads anything heavy.
"""
from __future__ import annotations

import re
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

#: URL schemes read as network streams (lower case).
NETWORK_SCHEMES: frozenset[str] = frozenset(
    {"rtsp", "rtsps", "rtmp", "rtmps", "rtmpt", "rtmpe", "rtmpte", "rtmpts",
     "http", "https", "tcp", "udp", "srt", "rtp"}
)

#: The name of the stream piped on standard input.
STDIN = "-"

LiveKind = Literal["network", "camera", "pipe"]

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_CAMERA = re.compile(r"^/dev/(video\d+|v4l/.+)$")
# Query keys whose values are secrets: cameras that take credentials in the query
# (``?user=admin&password=...``), SRT's ``passphrase``, tokens of HLS/HTTP streams.
_SECRET_KEYS = frozenset({"password", "passwd", "pass", "pwd", "passphrase", "token",
                          "secret", "key", "auth", "access_token", "api_key", "apikey",
                          "signature", "sig"})
MASK = "***"


def live_kind(name: str) -> LiveKind | None:
    """``"network"``, ``"camera"`` or ``"pipe"`` for a live source's name, else None
    (a file, or a URL of a scheme that is not read live)."""
    if name == STDIN:
        return "pipe"
    if _CAMERA.match(name):
        return "camera"
    m = _SCHEME.match(name)
    if m and m.group(1).lower() in NETWORK_SCHEMES:
        return "network"
    return None


def is_live_source(name: str) -> bool:
    """Whether ``name`` is read as a live source rather than as a file."""
    return live_kind(name) is not None


def mask_secrets(name: str) -> str:
    """``name`` with the password of its URL and the values of secret query keys
    replaced by ``***``: what records and messages show. Names that are not URLs
    are returned unchanged."""
    if not _SCHEME.match(name):
        return name
    try:
        parts = urlsplit(name)
        password = parts.password
    except ValueError:  # a malformed port or netloc: mask everything before the host
        return re.sub(r"^([^:/]+://)[^@/]*@", rf"\1{MASK}@", name)
    netloc = parts.netloc
    if password is not None:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k.lower() in _SECRET_KEYS for k, _ in pairs):
            query = urlencode([(k, MASK if k.lower() in _SECRET_KEYS else v) for k, v in pairs],
                              safe="*/:")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
