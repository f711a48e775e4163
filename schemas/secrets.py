"""Keys never stored or printed: one redaction for every error text that becomes a record or a line.

Backends register the secrets they are configured with (the value of a role's `api_key_env`, the
`{env: NAME}` values of LangChain kwargs) as they are built, in whichever process builds them; then
`redact` removes those values, and anything shaped like a bearer token or an `sk-` key, from a text.
"""

from __future__ import annotations

import re
import threading

REDACTED = "***"
#: shorter values ("EMPTY", "none", "1") would redact ordinary words and are no real key
MIN_SECRET_LENGTH = 8

_SHAPED = re.compile(
    r"(?i)(?<![A-Za-z0-9])(?:(?P<scheme>bearer|basic)\s+[A-Za-z0-9._~+/=-]+|sk-[A-Za-z0-9_-]{6,})"
)
_known: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Redact ``value`` from every error text from now on, in this process."""
    if value and len(value) >= MIN_SECRET_LENGTH:
        with _lock:
            _known.add(value)


def _shaped(match: re.Match[str]) -> str:
    scheme = match.group("scheme")
    return f"{scheme} {REDACTED}" if scheme else REDACTED


def redact(text: str) -> str:
    """``text`` with every registered secret and every bearer token or `sk-` key replaced."""
    with _lock:
        known = sorted(_known, key=len, reverse=True)  # a longer secret may contain a shorter one
    for secret in known:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return _SHAPED.sub(_shaped, text)


def redact_optional(text: str | None) -> str | None:
    return None if text is None else redact(text)
