"""Contract test kits for venue plugins: the same checks for every plugin, ours and yours.

- `arbiter.venues.testing.trading`: the trading half (`TradingVenue`): orders, queries,
  balances, positions, fees, instruments, and the error split under venue faults; its harness
  (what the author provides) is in `trading_harness`.

Each kit is a pytest base class; subclass it in a `Test...` class and provide its harness
fixture. The kits need pytest and pytest-asyncio.
"""
