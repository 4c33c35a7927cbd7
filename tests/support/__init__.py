"""What the tests share, one module per kind of thing; a test module imports from here, never
from another test module.

- `loopback`: the guard that keeps every test on this machine (on for the whole run).
- `manifest_samples`, `instruments`: manifest texts and instruments several tests build on.
- `order_events`: an order intent and the venue's answers to it (ack, fill, update).
- `venue_frames`, `json_mutations`, `xrp_books`: venue frames for the codecs and books, the
  mutations the fuzz tests apply to them, and books built from the XRPUSDT recording.
- `bybit_corpus`, `rest_replay`: the venues' own captured messages, and a loopback server that
  answers REST paths with them.
- `wire_clients`: plain venue clients that speak the simulator's wire dialects by hand.
- `trading_harness`, `session_harness`: the simulator as the trading and session contract kits
  see a venue.
- `sim_runtime`, `dual_leg_desk`: a runtime started on the simulator, and one trading a
  Bybit-spot / OKX-perp pair with what tests of its legs read from it.
- `journal_view`, `journal_agreement`: the journal as a restart reads it, and whether it agrees
  with the simulator's engines.
- `crash_driver`: a runtime in a child process that kills itself at a chosen point.
"""
