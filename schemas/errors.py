"""The base of every user-facing error: its str() is one line that names the file or thing and the problem."""

from __future__ import annotations


class OysterError(Exception):
    pass
