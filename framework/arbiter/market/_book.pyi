"""Types of the C book core (see _book.c and arbiter.market.book)."""

from collections.abc import Iterable, Mapping, Sequence

from typing_extensions import Buffer

UNITS_MAX: int
NEED_BOOKS: int
STALE: int
ENTRY_ON: int
ENTRY_OFF: int
ENTRY_THIN: int
EXIT_ON: int
EXIT_OFF: int
EXIT_THIN: int

def parse_units(text: object, scale: int) -> int | None: ...

class BookCore:
    bid_epoch: int
    ask_epoch: int
    bid_levels: int
    ask_levels: int
    updated_ms: int
    price_scale: int
    size_scale: int
    stale: bool
    update_id: int
    def __init__(self, price_scale: int, size_scale: int) -> None: ...
    def apply(
        self,
        bids: Iterable[tuple[int, int]],
        asks: Iterable[tuple[int, int]],
        ts_ms: int = 0,
    ) -> bool: ...
    def apply_next_json(
        self, update_id: int, bids: Buffer, asks: Buffer, ts_ms: int
    ) -> tuple[list[tuple[int, int]], list[tuple[int, int]], bool] | None: ...
    def _reset_levels(
        self, bids: Iterable[tuple[int, int]], asks: Iterable[tuple[int, int]], ts_ms: int
    ) -> None: ...
    def best_bid(self) -> tuple[int, int] | None: ...
    def best_ask(self) -> tuple[int, int] | None: ...
    def is_crossed(self) -> bool: ...
    def _depth_of(self, is_bid: bool, levels: int | None) -> list[tuple[int, int]]: ...
    def _size_of(self, is_bid: bool, price: int) -> int: ...
    def interleaved_texts(
        self, bid_texts: dict[int, str], ask_texts: dict[int, str], depth: int, sep: str
    ) -> bytes: ...
    def buy_cost(self, size: int) -> int | None: ...
    def sell_proceeds(self, size: int) -> int | None: ...

class PairCore:
    spot_book: BookCore | None
    perp_book: BookCore | None
    entry_active: bool
    exit_active: bool
    dirty: bool
    @property
    def spot_ask(self) -> int | None: ...
    @property
    def perp_bid(self) -> int | None: ...
    @property
    def spot_bid(self) -> int | None: ...
    @property
    def perp_ask(self) -> int | None: ...
    def bind(self, spot_book: BookCore, perp_book: BookCore) -> None: ...
    def set_rules(
        self,
        spot_qty: int,
        perp_qty: int,
        entry_a: int,
        entry_on: int,
        entry_hold: int,
        exit_a: int,
        exit_on: int,
        exit_hold: int,
    ) -> None: ...
    def forget(self) -> None: ...
    def refresh(self) -> int: ...

class DirtyPairs:
    def __init__(self, by_leg: Mapping[str, Mapping[str, Sequence[PairCore]]]) -> None: ...
    def mark(self, venue: str, symbol: str) -> None: ...
    def refresh(self) -> list[tuple[PairCore, int]]: ...
