"""Keys never stored or printed: one redaction for every error text that becomes a record or a line.

Backends register the secrets they are configured with (the value of a role's `api_key_env`, the
`{env: NAME}` values of LangChain kwargs) as they are built, in whichever process builds them; then
`redact` removes those values (as they are, URL-encoded, hex or base64), and anything shaped like a
bearer token or an `sk-` key, from a text; `redact_secrets` removes the values alone (a model's reply
may hold a key an endpoint echoed).
"""

from __future__ import annotations

import base64
import re
import threading
from urllib.parse import quote, quote_plus

REDACTED = "***"
#: shorter values ("EMPTY", "none", "1") would redact ordinary words and are no real key
MIN_SECRET_LENGTH = 8

_SHAPED = re.compile(
    r"(?i)(?<![A-Za-z0-9])(?:(?P<scheme>bearer|basic)\s+[A-Za-z0-9._~+/=-]+|sk-[A-Za-z0-9_-]{6,})"
)
_known: set[str] = set()
_lock = threading.Lock()
#: every registered secret and its encoded forms, longest first, as one pattern (None: none registered)
_pattern: re.Pattern[str] | None = None
#: an encoded fragment shorter than this could match ordinary text by chance
MIN_FORM_LENGTH = 12


def encoded_forms(value: str) -> set[str]:
    """``value`` as an endpoint may echo it: as is, URL-encoded, hex, and base64 (standard and
    URL-safe) at each of the three byte alignments it can have inside a longer encoded text."""
    raw = value.encode("utf-8")
    forms = {value, quote(value, safe=""), quote_plus(value), raw.hex(), raw.hex().upper()}
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        for pad in range(3):
            text = encode(b"\0" * pad + raw).decode("ascii")
            # Only the characters that depend on the value's bytes alone.
            start = 4 if pad else 0
            end = len(text) - (4 if (pad + len(raw)) % 3 else 0)
            forms.add(text[start:end])
    return {f for f in forms if f == value or len(f) >= MIN_FORM_LENGTH}


def register_secret(value: str | None) -> None:
    """Redact ``value`` (and its encoded forms) from every error text from now on, in this process."""
    global _pattern
    if value and len(value) >= MIN_SECRET_LENGTH:
        with _lock:
            if value in _known:
                return
            _known.add(value)
            forms = sorted({f for v in _known for f in encoded_forms(v)}, key=len, reverse=True)
            # a longer form may contain a shorter one: the alternation tries the longest first
            _pattern = re.compile("|".join(map(re.escape, forms)))


def _shaped(match: re.Match[str]) -> str:
    scheme = match.group("scheme")
    return f"{scheme} {REDACTED}" if scheme else REDACTED


def redact_secrets(text: str) -> str:
    """``text`` with every registered secret, in any of its encoded forms, replaced; the same object
    when there is none (a model's reply: nothing shaped like a key is touched there)."""
    pattern = _pattern
    if pattern is None or not text:
        return text
    out = pattern.sub(REDACTED, text)
    return text if out == text else out


def redact(text: str) -> str:
    """``text`` with every registered secret (as is or encoded) and every bearer token or `sk-` key
    replaced."""
    return _SHAPED.sub(_shaped, redact_secrets(text))


def redact_optional(text: str | None) -> str | None:
    return None if text is None else redact(text)
