"""OKX v5 venue plugin for Arbiter: sans-IO codec, transports and REST."""

from arbiter_okx.codec import OkxCodec, book_arg, okx_checksum
from arbiter_okx.instruments import parse_instruments

__all__ = ["OkxCodec", "book_arg", "okx_checksum", "parse_instruments"]
