"""Bybit v5 venue plugin for Arbiter: sans-IO codec, transports and REST."""

from arbiter_bybit.codec import BybitCodec, orderbook_topic, tickers_topic, trades_topic
from arbiter_bybit.instruments import parse_instruments

__all__ = ["BybitCodec", "orderbook_topic", "parse_instruments", "tickers_topic", "trades_topic"]
