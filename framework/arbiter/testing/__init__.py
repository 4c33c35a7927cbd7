"""Contract test kits for venue plugins: the same checks for every plugin, ours and yours.

They drive a plugin the way the runtime does (through the order pipeline and the journal), so
they stand above the engine's layers: nothing in the engine imports them.

- `arbiter.testing.trading`: the trading half (`TradingVenue`): orders, queries,
  balances, positions, fees, instruments, and the error split under venue faults; its harness
  (what the author provides) is in `trading_harness`.

Each kit is a pytest base class; subclass it in a `Test...` class and provide its harness
fixture. The kits need pytest and pytest-asyncio.
"""
