"""Building a venue's ccxt client from its account config: endpoints, overrides, keys, numbers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import ccxt.async_support as ccxt_async
import pytest

from arbiter.venues import ApiKeys, VenueConfig
from arbiter.venues.rest.client import EndpointError, build_client, rehost
from arbiter_bybit.trading import BybitTrading
from arbiter_okx.trading import OkxTrading

KEYS = ApiKeys("key-1", "secret-1", "pass-1")


def _urls(tree: Any) -> Iterator[str]:
    if isinstance(tree, dict):
        for value in tree.values():
            yield from _urls(value)
    elif isinstance(tree, str) and "://" in tree:
        yield tree


def _client(config: VenueConfig, exchange: str = "bybit") -> Any:
    return build_client(exchange, config, timeout_ms=1234, rate_limit_ms=20)


def test_sim_endpoint_when_rest_url_missing_refused_with_what_to_set() -> None:
    with pytest.raises(EndpointError, match=r"endpoint 'sim' needs urls.rest"):
        _client(VenueConfig("bybit", "sim"))


def test_endpoint_when_unknown_refused_naming_the_choices() -> None:
    with pytest.raises(EndpointError, match="sim, testnet, mainnet, was 'prod'"):
        _client(VenueConfig("bybit", "prod"))


def test_rest_override_when_not_a_base_url_refused() -> None:
    with pytest.raises(EndpointError, match=r"expected urls\.rest like http://host:port"):
        _client(VenueConfig("bybit", "sim", {"rest": "127.0.0.1:9000"}))


@pytest.mark.parametrize("exchange", ["bybit", "okx"])
def test_sim_endpoint_when_built_sends_every_rest_url_to_the_override(exchange: str) -> None:
    client = _client(VenueConfig(exchange, "sim", {"rest": "http://127.0.0.1:9000"}), exchange)

    http = [u for u in _urls(client.urls["api"]) if u.startswith("http")]

    assert http
    assert all(u.split("/")[2] == "127.0.0.1:9000" and u.startswith("http://") for u in http)


def test_rehost_when_url_has_a_path_keeps_it_and_leaves_websockets_alone() -> None:
    tree = {"rest": {"a": "https://api.{hostname}/v5/x"}, "ws": "wss://stream.bybit.com/v5/public"}

    moved = rehost(tree, "http://proxy:8080/")

    assert moved == {"rest": {"a": "http://proxy:8080/v5/x"}, "ws": tree["ws"]}


def test_testnet_endpoint_when_built_uses_the_venue_test_hosts() -> None:
    client = _client(VenueConfig("bybit", "testnet"))

    assert any("testnet" in u for u in _urls(client.urls["api"]))


def test_mainnet_endpoint_when_built_keeps_ccxt_hosts_and_keys_and_exact_numbers() -> None:
    client = _client(VenueConfig("okx", "mainnet", keys=KEYS), "okx")

    assert client.urls["api"] == ccxt_async.okx().urls["api"]
    assert (client.apiKey, client.secret, client.password) == ("key-1", "secret-1", "pass-1")
    assert client.number is str
    assert (client.timeout, client.enableRateLimit) == (1234, True)


@pytest.mark.parametrize(("plugin", "base_ms"), [(BybitTrading, 20.0), (OkxTrading, 1000 / 9)])
def test_plugin_when_built_throttles_to_its_published_request_rate(
    plugin: type[BybitTrading | OkxTrading], base_ms: float
) -> None:
    venue = plugin(VenueConfig(plugin.exchange_id, "mainnet"))

    assert venue.client.rateLimit == pytest.approx(base_ms)
    assert venue.client.enableRateLimit is True
    assert venue._orders_bucket.rate == venue.limits.orders_per_second


def test_keys_when_repr_or_config_printed_show_no_secret() -> None:
    config = VenueConfig("okx", "mainnet", keys=KEYS)
    venue = OkxTrading(config)

    assert "secret-1" not in repr(config)
    assert "secret-1" not in repr(venue.config)
