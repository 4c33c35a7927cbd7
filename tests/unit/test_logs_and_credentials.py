"""Secrets reach the venue clients and never a log line."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from loguru import logger

from arbiter.manifest.models import Credentials
from arbiter.runtime.logs import configure_logging
from arbiter.venues.registry.credentials import CredentialsError, resolve

SECRET = "sk-live-9f8e7d6c5b4a"


def test_credentials_when_from_environment_resolve_and_hide_in_repr() -> None:
    keys = resolve(
        "bybit", Credentials(api_key_env="K", api_secret_env="S"), {"K": "key-123456", "S": SECRET}
    )
    assert (keys.api_key, keys.api_secret) == ("key-123456", SECRET)
    assert SECRET not in repr(keys)


def test_credentials_when_variable_unset_name_the_variable() -> None:
    with pytest.raises(
        CredentialsError, match="okx: environment variable OKX_PASS \\(passphrase\\) is not set"
    ):
        resolve(
            "okx",
            Credentials(api_key_env="K", api_secret_env="S", passphrase_env="OKX_PASS"),
            {"K": "k", "S": "s"},
        )


def test_secrets_file_when_private_is_read(tmp_path: Path) -> None:
    path = tmp_path / "okx.yaml"
    path.write_text(f"api_key: abcdef123\napi_secret: {SECRET}\npassphrase: pass-phrase-1\n")
    path.chmod(0o600)
    keys = resolve("okx", Credentials(secrets_file=str(path)))
    assert keys.passphrase == "pass-phrase-1"


def test_secrets_file_when_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "okx.yaml"
    path.write_text(f"api_key: a\napi_secret: {SECRET}\n")
    path.chmod(0o644)
    with pytest.raises(CredentialsError, match="readable by others \\(mode 644\\)"):
        resolve("okx", Credentials(secrets_file=str(path)))


@pytest.mark.parametrize("fmt", ["human", "json"])
def test_logs_when_a_resolved_secret_is_logged_never_print_it(fmt: str) -> None:
    stream = io.StringIO()
    configure_logging(fmt, stream=stream)
    try:
        resolve(
            "bybit",
            Credentials(api_key_env="K", api_secret_env="S"),
            {"K": "key-abcdef", "S": SECRET},
        )
        log = logger.bind(strategy="btc-basis", pair="btc", header=f"X-BAPI-SIGN {SECRET}")
        log.info(f"signing with {SECRET}")
        try:
            raise RuntimeError(f"auth failed for {SECRET}")
        except RuntimeError:
            log.exception("connect failed")
    finally:
        configure_logging("human")
    out = stream.getvalue()
    assert "signing with ***" in out
    assert SECRET not in out
    if fmt == "json":
        first = json.loads(out.splitlines()[0])
        assert (first["strategy"], first["pair"], first["message"]) == (
            "btc-basis",
            "btc",
            "signing with ***",
        )
        assert "auth failed for ***" in json.loads(out.splitlines()[1])["exception"]


def test_log_format_when_unknown_is_refused() -> None:
    with pytest.raises(ValueError, match="expected log format human or json, was 'xml'"):
        configure_logging("xml")
