"""The SQLite journal: write-ahead for orders, fills and machine states, and its replay."""

from arbiter.store.journal import Durability, Journal, ManifestVersion
from arbiter.store.replay import CycleRecord, HoldRecord, JournalState, restore_orders
from arbiter.store.schema import LATEST, MIGRATIONS, SchemaTooNew, migrate

__all__ = [
    "LATEST",
    "MIGRATIONS",
    "CycleRecord",
    "Durability",
    "HoldRecord",
    "Journal",
    "JournalState",
    "ManifestVersion",
    "SchemaTooNew",
    "migrate",
    "restore_orders",
]
