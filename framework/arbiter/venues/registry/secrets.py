"""The secrets a venue account was given (API keys, secrets, passphrases): registered when
they are read, so that nothing this process logs ever prints them (`redact`)."""

from __future__ import annotations

_SECRETS: set[str] = set()
_MIN_SECRET_LEN = 6  # shorter values would mask ordinary words


def register_secret(value: str) -> None:
    """Never print `value` (an API key, secret or passphrase) in any log line."""
    if len(value) >= _MIN_SECRET_LEN:
        _SECRETS.add(value)


def redact(text: str) -> str:
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, "***")
    return text
