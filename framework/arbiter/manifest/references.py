"""Checks across sections: names that must refer to something declared elsewhere.

They run after the models validate, and each returns the exact path of the offending value so
the error points at its line and column.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator

from arbiter.manifest.gates import LegRole, MinBalance, VenueHealthy
from arbiter.manifest.models import Manifest, SpotPerpPair, SpotSpotPair
from arbiter.manifest.yaml_source import Path


def check_references(
    manifest: Manifest, plugins: Collection[str] | None = None
) -> list[tuple[Path, str]]:
    """Cross-section problems; with `plugins`, also every venue's plugin must be among them."""
    return list(_problems(manifest, plugins))


def _problems(m: Manifest, plugins: Collection[str] | None) -> Iterator[tuple[Path, str]]:
    venues = sorted(m.venues)
    if plugins is not None:
        for name, venue in m.venues.items():
            if venue.plugin not in plugins:
                listed = ", ".join(sorted(plugins)) or "none"
                yield (
                    ("venues", name, "plugin"),
                    f"unknown venue plugin {venue.plugin!r}; installed: {listed}",
                )
    pair_ids: dict[str, int] = {}
    for i, pair in enumerate(m.pairs):
        if pair.id in pair_ids:
            yield (
                ("pairs", i, "id"),
                f"duplicate pair id {pair.id!r} (first at pairs[{pair_ids[pair.id]}])",
            )
        else:
            pair_ids[pair.id] = i
        legs = ("spot", "perp") if isinstance(pair, SpotPerpPair) else ("a", "b")
        for leg in legs:
            ref = getattr(pair, leg)
            if ref.venue not in m.venues:
                yield (
                    ("pairs", i, leg, "venue"),
                    f"unknown venue {ref.venue!r}; declared: {', '.join(venues)}",
                )

    gate_names: dict[str, int] = {}
    for g, gate in enumerate(m.gates):
        if gate.name in gate_names:
            yield (
                ("gates", g, "name"),
                f"duplicate gate name {gate.name!r} (first at gates[{gate_names[gate.name]}])",
            )
        else:
            gate_names[gate.name] = g
        for p, pid in enumerate(gate.pairs or ()):
            if pid not in pair_ids:
                yield (
                    ("gates", g, "pairs", p),
                    f"unknown pair {pid!r}; declared: {', '.join(pair_ids)}",
                )
        if isinstance(gate, MinBalance) and gate.venue not in m.venues:
            yield (
                ("gates", g, "venue"),
                f"unknown venue {gate.venue!r}; declared: {', '.join(venues)}",
            )
        if isinstance(gate, VenueHealthy):
            for v, name in enumerate(gate.venues or ()):
                if name not in m.venues:
                    yield (
                        ("gates", g, "venues", v),
                        f"unknown venue {name!r}; declared: {', '.join(venues)}",
                    )
        gate_leg = getattr(gate, "leg", None)
        if isinstance(gate_leg, LegRole) and gate_leg is not LegRole.ALL:
            leg_role = gate_leg
            scoped = [p for p in m.pairs if gate.pairs is None or p.id in gate.pairs]
            wrong = [p.id for p in scoped if not _has_leg(p, leg_role)]
            if wrong:
                yield (
                    ("gates", g, "leg"),
                    f"leg {leg_role.value!r} does not exist on pair(s) {', '.join(wrong)} "
                    "(spot_perp pairs have spot/perp, spot_spot pairs have a/b)",
                )
        if gate.type == "funding_rate":
            scoped = [p for p in m.pairs if gate.pairs is None or p.id in gate.pairs]
            spot_only = [p.id for p in scoped if not isinstance(p, SpotPerpPair)]
            if spot_only:
                yield (
                    ("gates", g, "type"),
                    f"funding_rate needs a perp leg; pair(s) {', '.join(spot_only)} have none",
                )

    if m.hedge is not None:
        assets = {p.asset for p in m.pairs}
        for asset, ref in m.hedge.instruments.items():
            if asset not in assets:
                yield (
                    ("hedge", "instruments", asset),
                    f"no pair trades {asset}; pair assets: {', '.join(sorted(assets))}",
                )
            if ref.venue not in m.venues:
                yield (
                    ("hedge", "instruments", asset, "venue"),
                    f"unknown venue {ref.venue!r}; declared: {', '.join(venues)}",
                )
        perp_assets = {p.asset for p in m.pairs if isinstance(p, SpotPerpPair)}
        unhedgeable = sorted(assets - perp_assets - set(m.hedge.instruments))
        if unhedgeable:
            yield (
                ("hedge", "instruments"),
                f"no hedge instrument for {', '.join(unhedgeable)}: no spot_perp pair trades it; "
                "name one under hedge.instruments",
            )


def _has_leg(pair: SpotPerpPair | SpotSpotPair, leg: LegRole) -> bool:
    if isinstance(pair, SpotSpotPair):
        return leg in (LegRole.A, LegRole.B)
    return leg in (LegRole.SPOT, LegRole.PERP)
