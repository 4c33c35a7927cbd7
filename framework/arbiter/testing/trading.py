"""The trading half of the venue contract, as checks a plugin author runs against their venue.

Subclass `TradingVenueContract` and provide a `trading_harness` fixture that yields a
`TradingHarness`: a started `TradingVenue` on a flat, funded account, and a `VenueObserver` that
reads the venue's side of the story without going through the plugin (the simulator's engine,
or the venue's own web API). Every check compares what the plugin says with what the venue
holds, and money exactly. Checks that need faults injected or a second connection are skipped
when the harness cannot provide them.

    class TestMyVenue(TradingVenueContract):
        @pytest.fixture
        async def trading_harness(self) -> AsyncIterator[TradingHarness]:
            venue = MyTrading(config)
            await venue.start()
            yield TradingHarness(venue, MyObserver(...), spot="BTCUSDT", perp="BTCUSDT", ...)
            await venue.close()
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

import pytest

from arbiter.testing.trading_harness import (
    FaultInjector,
    ObservedOrder,
    TradingHarness,
    VenueFault,
    VenueObserver,
    client_id,
    far_bid,
    now_ms,
    spot_request,
)
from arbiter.venues import (
    Ambiguous,
    Definitive,
    DuplicateClientId,
    Fill,
    OrderNotFound,
    OrderRequest,
    OrderStatus,
    OrderType,
    RateLimited,
    Side,
    TimeInForce,
)

__all__ = [
    "FaultInjector",
    "ObservedOrder",
    "TradingHarness",
    "TradingVenueContract",
    "VenueFault",
    "VenueObserver",
]

INSTRUMENT_FIELDS = (
    "base",
    "quote",
    "tick_size",
    "lot_size",
    "min_qty",
    "min_notional",
    "contract_value",
    "maker_fee",
    "taker_fee",
)


class TradingVenueContract:
    """The checks; a subclass supplies the `trading_harness` fixture."""

    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [pytest.mark.asyncio]

    # -- reference data -----------------------------------------------------------------------

    async def test_instruments_when_listed_match_the_venue(
        self, trading_harness: TradingHarness
    ) -> None:
        h = trading_harness
        listed = {(i.kind.value, i.symbol): i for i in await h.venue.instruments()}
        for kind, symbol in (("spot", h.spot), ("perp", h.perp)):
            ours, theirs = listed[(kind, symbol)], h.observer.instrument(kind, symbol)
            for name in INSTRUMENT_FIELDS:
                assert getattr(ours, name) == getattr(theirs, name), (kind, symbol, name)

    async def test_fee_rates_when_asked_are_the_account_rates(
        self, trading_harness: TradingHarness
    ) -> None:
        h = trading_harness
        rates = {(r.kind, r.symbol): r for r in await h.venue.fee_rates([h.spot, h.perp])}
        for kind, symbol in (("spot", h.spot), ("perp", h.perp)):
            inst = h.observer.instrument(kind, symbol)
            assert (rates[(kind, symbol)].maker, rates[(kind, symbol)].taker) == (
                inst.maker_fee,
                inst.taker_fee,
            )

    # -- resting orders -----------------------------------------------------------------------

    async def test_limit_order_when_resting_is_open_then_cancelled(
        self, trading_harness: TradingHarness
    ) -> None:
        h = trading_harness
        request = spot_request(h, "rest")

        ack = await h.venue.place_order(request)

        assert ack.client_id == request.client_id
        assert ack.venue_order_id
        seen = await h.venue.query_order(h.spot, request.client_id)
        assert seen is not None
        assert seen.status is OrderStatus.NEW
        assert (seen.qty, seen.price, seen.side) == (request.qty, request.price, Side.BUY)
        assert h.observer.order(request.client_id) == ObservedOrder(
            "spot", h.spot, OrderStatus.NEW, Side.BUY, request.qty, Decimal(0), request.price
        )
        assert [o.client_id for o in await h.venue.open_orders(h.spot)] == [request.client_id]
        assert request.client_id in {o.client_id for o in await h.venue.open_orders()}

        await h.venue.cancel_order(h.spot, request.client_id)

        after = await h.venue.query_order(h.spot, request.client_id)
        assert after is not None
        assert after.status is OrderStatus.CANCELLED
        observed = h.observer.order(request.client_id)
        assert observed is not None
        assert observed.status is OrderStatus.CANCELLED
        assert await h.venue.open_orders(h.spot) == []

    async def test_amend_when_resting_changes_qty_and_price_on_the_venue(
        self, trading_harness: TradingHarness
    ) -> None:
        h = trading_harness
        request = spot_request(h, "amend")
        await h.venue.place_order(request)
        assert request.price is not None
        tick = h.observer.instrument("spot", h.spot).tick_size
        new_qty, new_price = request.qty * 2, request.price - tick

        await h.venue.amend_order(h.spot, request.client_id, qty=new_qty, price=new_price)

        seen = await h.venue.query_order(h.spot, request.client_id)
        assert seen is not None
        assert (seen.qty, seen.price) == (new_qty, new_price)
        observed = h.observer.order(request.client_id)
        assert observed is not None
        assert (observed.qty, observed.price) == (new_qty, new_price)

    async def test_open_orders_when_more_than_a_page_lists_every_one(
        self, trading_harness: TradingHarness
    ) -> None:
        h = trading_harness
        placed = set()
        for n in range(25):  # past Bybit's default page of 20
            request = spot_request(h, f"page{n}")
            await h.venue.place_order(request)
            placed.add(request.client_id)

        listed = [o.client_id for o in await h.venue.open_orders(h.spot)]

        assert sorted(listed) == sorted(placed)

    # -- fills and money ----------------------------------------------------------------------

    async def test_ioc_spot_buy_when_crossing_moves_balances_exactly_by_fills_and_fees(
        self, trading_harness: TradingHarness
    ) -> None:
        h = trading_harness
        inst = h.observer.instrument("spot", h.spot)
        since = now_ms() - 60_000
        before = await h.venue.balances()
        # 1 % through the ask: fills across levels if the first is thin, never above the limit.
        price = inst.round_price_up(h.observer.best("spot", h.spot, Side.SELL) * 101 / 100)
        request = spot_request(h, "ioc", price=price, tif=TimeInForce.IOC)

        await h.venue.place_order(request)

        seen = await h.venue.query_order(h.spot, request.client_id)
        assert seen is not None
        assert seen.status is OrderStatus.FILLED
        fills = [f for f in await h.venue.fills(h.spot, since) if f.client_id == request.client_id]
        assert sum(f.qty for f in fills) == request.qty
        after = await h.venue.balances()
        for asset, moved in _moves(fills, inst.base, inst.quote).items():
            assert after[asset].total == before[asset].total + moved, asset
            assert after[asset].total == h.observer.wallet(asset), asset

    async def test_market_spot_sell_when_filled_reports_fills_summing_to_qty(
        self, trading_harness: TradingHarness
    ) -> None:
        h = trading_harness
        since = now_ms() - 60_000
        request = spot_request(h, "mkt", side=Side.SELL, type=OrderType.MARKET, price=None)

        await h.venue.place_order(request)

        seen = await h.venue.query_order(h.spot, request.client_id)
        assert seen is not None
        assert seen.status is OrderStatus.FILLED
        assert seen.filled_qty == request.qty
        assert seen.avg_price is not None
        fills = [f for f in await h.venue.fills(None, since) if f.client_id == request.client_id]
        assert sum(f.qty for f in fills) == request.qty
        assert len({f.trade_id for f in fills}) == len(fills)
        assert all(f.side is Side.SELL and f.symbol == h.spot for f in fills)

    async def test_perp_position_when_opened_and_reduced_matches_the_venue(
        self, trading_harness: TradingHarness
    ) -> None:
        h = trading_harness
        inst = h.observer.instrument("perp", h.perp)
        since = now_ms() - 60_000
        wallet_before = h.observer.wallet(inst.quote)
        price = inst.round_price_down(h.observer.best("perp", h.perp, Side.BUY) * 99 / 100)
        open_cid = client_id(h, "short")
        await h.venue.place_order(
            OrderRequest(
                open_cid,
                h.perp,
                Side.SELL,
                OrderType.LIMIT,
                h.perp_qty,
                price,
                TimeInForce.IOC,
                kind="perp",
            )
        )

        (short,) = [p for p in await h.venue.positions() if p.symbol == h.perp]
        assert short.size == -h.perp_qty == h.observer.position(h.perp)
        opening = [f for f in await h.venue.fills(h.perp, since) if f.client_id == open_cid]
        # Opening a position realizes nothing: the wallet pays exactly the fees.
        assert h.observer.wallet(inst.quote) == wallet_before - sum(f.fee for f in opening)

        close = OrderRequest(
            client_id(h, "close"),
            h.perp,
            Side.BUY,
            OrderType.MARKET,
            h.perp_qty,
            reduce_only=True,
            kind="perp",
        )
        await h.venue.place_order(close)

        assert [p for p in await h.venue.positions() if p.symbol == h.perp] == []
        assert h.observer.position(h.perp) == 0

    async def test_reduce_only_when_flat_is_refused_definitively(
        self, trading_harness: TradingHarness
    ) -> None:
        h = trading_harness
        request = OrderRequest(
            client_id(h, "ro"),
            h.perp,
            Side.BUY,
            OrderType.MARKET,
            h.perp_qty,
            reduce_only=True,
            kind="perp",
        )

        with pytest.raises(Definitive):
            await h.venue.place_order(request)

        assert h.observer.position(h.perp) == 0

    @pytest.mark.parametrize("tif", [TimeInForce.POST_ONLY, TimeInForce.FOK])
    async def test_post_only_or_fok_when_it_cannot_rest_or_fill_ends_unfilled(
        self, trading_harness: TradingHarness, tif: TimeInForce
    ) -> None:
        h = trading_harness
        ask = h.observer.best("spot", h.spot, Side.SELL)
        # Post-only at the ask would take; FOK under the bid finds nothing to fill against.
        price = ask if tif is TimeInForce.POST_ONLY else far_bid(h)
        request = spot_request(h, str(tif), price=price, tif=tif)

        await h.venue.place_order(request)

        seen = await h.venue.query_order(h.spot, request.client_id)
        assert seen is not None
        assert seen.status.final
        assert seen.status is not OrderStatus.FILLED
        assert seen.filled_qty == 0
        observed = h.observer.order(request.client_id)
        assert observed is not None
        assert observed.filled_qty == 0

    # -- identity -----------------------------------------------------------------------------

    async def test_place_when_client_id_reused_raises_duplicate_and_venue_holds_one(
        self, trading_harness: TradingHarness
    ) -> None:
        h = trading_harness
        request = spot_request(h, "dup")
        await h.venue.place_order(request)

        with pytest.raises(DuplicateClientId):
            await h.venue.place_order(request)

        assert h.observer.order_count() == 1

    @pytest.mark.parametrize("bad", ["x" * 40, "has space", "dot.ted"])
    async def test_place_when_client_id_breaks_venue_rules_is_refused_before_sending(
        self, trading_harness: TradingHarness, bad: str
    ) -> None:
        h = trading_harness
        sent = h.observer.order_requests()

        with pytest.raises(Definitive, match="client order id"):
            await h.venue.place_order(spot_request(h, "bad", client_id=bad))

        assert h.observer.order_requests() == sent
        assert h.observer.order_count() == 0

    async def test_place_when_qty_off_the_lot_grid_is_refused_before_sending(
        self, trading_harness: TradingHarness
    ) -> None:
        h = trading_harness
        lot = h.observer.instrument("spot", h.spot).lot_size
        sent = h.observer.order_requests()

        with pytest.raises(Definitive, match="multiple"):
            await h.venue.place_order(spot_request(h, "grid", qty=h.spot_qty + lot / 2))

        assert h.observer.order_requests() == sent

    async def test_spot_and_perp_orders_when_placed_reach_their_own_product(
        self, trading_harness: TradingHarness
    ) -> None:
        h = trading_harness
        spot = spot_request(h, "spot")
        bid = h.observer.best("perp", h.perp, Side.BUY)
        inst = h.observer.instrument("perp", h.perp)
        perp = OrderRequest(
            client_id(h, "perp"),
            h.perp,
            Side.BUY,
            OrderType.LIMIT,
            h.perp_qty,
            inst.round_price_down(bid * 9 / 10),
            kind="perp",
        )

        await h.venue.place_order(spot)
        await h.venue.place_order(perp)

        for request in (spot, perp):
            observed = h.observer.order(request.client_id)
            assert observed is not None
            assert (observed.kind, observed.symbol) == (request.kind, request.symbol)
            seen = await h.venue.query_order(request.symbol, request.client_id)
            assert seen is not None
            assert seen.price == request.price
        if h.spot == h.perp:
            sent = h.observer.order_requests()
            with pytest.raises(Definitive, match="kind"):
                await h.venue.place_order(spot_request(h, "nokind", kind=None))
            assert h.observer.order_requests() == sent

    async def test_query_when_never_placed_returns_none(
        self, trading_harness: TradingHarness
    ) -> None:
        h = trading_harness
        assert await h.venue.query_order(h.spot, client_id(h, "ghost")) is None

    async def test_cancel_when_never_placed_raises_not_found(
        self, trading_harness: TradingHarness
    ) -> None:
        h = trading_harness
        with pytest.raises(OrderNotFound):
            await h.venue.cancel_order(h.perp, client_id(h, "ghost"))

    # -- faults -------------------------------------------------------------------------------

    async def test_place_when_5xx_after_accept_is_ambiguous_and_query_finds_the_one_order(
        self, trading_harness: TradingHarness
    ) -> None:
        h = _with_faults(trading_harness)
        request = spot_request(h, "5xx")
        assert h.faults is not None
        h.faults.inject(VenueFault.SERVER_ERROR_AFTER_ACCEPT, "place")

        with pytest.raises(Ambiguous):
            await h.venue.place_order(request)

        await _resolved_without_resend(h, request)

    async def test_place_when_timeout_after_accept_is_ambiguous_and_query_finds_the_one_order(
        self, trading_harness: TradingHarness
    ) -> None:
        h = _with_faults(trading_harness)
        if h.connect is None:
            pytest.skip("the harness cannot open a venue with a short timeout")
        assert h.faults is not None
        venue = await h.connect(h.timeout_ms)
        try:
            request = spot_request(h, "timeout")
            h.faults.inject(VenueFault.TIMEOUT_AFTER_ACCEPT, "place")

            with pytest.raises(Ambiguous):
                await venue.place_order(request)
        finally:
            await venue.close()
        # Resolved through the harness's own venue: the way a restarted process would.
        await _resolved_without_resend(h, request)

    @pytest.mark.parametrize(
        ("fault", "error"), [(VenueFault.RATE_LIMIT, RateLimited), (VenueFault.REJECT, Definitive)]
    )
    async def test_place_when_refused_by_the_venue_is_definitive_and_nothing_exists(
        self, trading_harness: TradingHarness, fault: VenueFault, error: type[Definitive]
    ) -> None:
        h = _with_faults(trading_harness)
        assert h.faults is not None
        request = spot_request(h, str(fault))
        h.faults.inject(fault, "place")

        with pytest.raises(error):
            await h.venue.place_order(request)

        assert h.observer.order_count() == 0
        assert await h.venue.query_order(h.spot, request.client_id) is None


def _moves(fills: list[Fill], base: str, quote: str) -> dict[str, Decimal]:
    """What a set of spot fills must do to the wallet, fee by fee."""
    moved = {base: Decimal(0), quote: Decimal(0)}
    for f in fills:
        sign = 1 if f.side is Side.BUY else -1
        moved[base] += sign * f.qty
        moved[quote] -= sign * f.qty * f.price
        moved[f.fee_asset] = moved.get(f.fee_asset, Decimal(0)) - f.fee
    return moved


def _with_faults(harness: TradingHarness) -> TradingHarness:
    if harness.faults is None:
        pytest.skip("the harness cannot inject venue faults")
    return harness


async def _resolved_without_resend(h: TradingHarness, request: OrderRequest) -> None:
    """After an ambiguous placement: the query finds the order, and the venue holds just it."""
    sent = h.observer.order_requests()
    seen = await h.venue.query_order(request.symbol, request.client_id)
    assert seen is not None
    assert seen.client_id == request.client_id
    assert seen.status is OrderStatus.NEW
    assert seen.qty == request.qty
    assert h.observer.order_count() == 1
    assert h.observer.order_requests() == sent  # resolving placed nothing
