"""One `TradingVenue` over ccxt (`trading`): the client (`client`), requests checked before they
leave (`requests`), answers read exactly (`convert`) and ccxt's exceptions translated into the
contract's errors (`errors`). Plugins import these names from `arbiter.venues`.
"""
