"""Resolve a manifest's credential references into keys, at connect time only.

Keys come from environment variables or a secrets file (YAML or JSON with `api_key`,
`api_secret`, optional `passphrase`), never from the manifest. A secrets file readable by group
or others is refused. Every resolved value is registered with the log redactor.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import yaml

from arbiter.manifest.models import Credentials
from arbiter.venues.contract.config import ApiKeys
from arbiter.venues.registry.secrets import register_secret


class CredentialsError(Exception):
    pass


def resolve(venue: str, refs: Credentials, environ: dict[str, str] | None = None) -> ApiKeys:
    env = dict(os.environ) if environ is None else environ
    if refs.secrets_file is not None:
        values = _read_secrets_file(venue, Path(refs.secrets_file))
    else:
        values = {}
        for field_name, var in (
            ("api_key", refs.api_key_env),
            ("api_secret", refs.api_secret_env),
            ("passphrase", refs.passphrase_env),
        ):
            if var is None:
                continue
            if var not in env or not env[var]:
                raise CredentialsError(
                    f"{venue}: environment variable {var} ({field_name}) is not set"
                )
            values[field_name] = env[var]
    if not values.get("api_key") or not values.get("api_secret"):
        raise CredentialsError(f"{venue}: expected api_key and api_secret")
    for value in values.values():
        register_secret(value)
    return ApiKeys(values["api_key"], values["api_secret"], values.get("passphrase"))


def _read_secrets_file(venue: str, path: Path) -> dict[str, str]:
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise CredentialsError(f"{venue}: secrets file {path}: {exc.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CredentialsError(
            f"{venue}: secrets file {path} is readable by others (mode {stat.S_IMODE(mode):o}); chmod 600 it"
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CredentialsError(
            f"{venue}: secrets file {path} cannot be read: {type(exc).__name__}"
        ) from None
    if not isinstance(data, dict):
        raise CredentialsError(
            f"{venue}: secrets file {path}: expected a mapping with api_key and api_secret"
        )
    return {
        k: str(v)
        for k, v in data.items()
        if k in ("api_key", "api_secret", "passphrase") and v is not None
    }
