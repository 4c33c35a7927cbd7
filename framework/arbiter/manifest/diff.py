"""What changed between two versions of one manifest, sorted by how it may be applied.

- parameter changes (thresholds, sizing, gates, hedge, execution, risk): applied in place at
  the next safe point of each affected pair's machine;
- a pair added: started; a pair removed: drained;
- a pair whose venue, symbol, type, asset or direction changed: drained and restarted;
- a venue section changed: that venue's connections restart (and every pair on it with them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from arbiter.manifest.models import (
    Manifest,
    SpotPerpPair,
    SpotSpotPair,
    effective_sizing,
    effective_thresholds,
)

_IDENTITY = ("type", "asset", "direction", "spot", "perp", "a", "b")


@dataclass(frozen=True, slots=True)
class ManifestDiff:
    strategy_renamed: bool = False
    venues_changed: tuple[str, ...] = ()
    pairs_added: tuple[str, ...] = ()
    pairs_removed: tuple[str, ...] = ()
    pairs_restarted: tuple[str, ...] = ()  # identity changed: drain, then start anew
    pairs_retuned: dict[str, tuple[str, ...]] = field(
        default_factory=dict
    )  # pair -> changed fields
    strategy_params: tuple[str, ...] = ()  # changed top-level sections that apply to every pair

    @property
    def empty(self) -> bool:
        return not (
            self.strategy_renamed
            or self.venues_changed
            or self.pairs_added
            or self.pairs_removed
            or self.pairs_restarted
            or self.pairs_retuned
            or self.strategy_params
        )

    def lines(self) -> list[str]:
        out = []
        if self.strategy_renamed:
            out.append("strategy renamed: treated as a new strategy")
        out += [f"venue {v}: changed, connections restart" for v in self.venues_changed]
        out += [f"pair {p}: added" for p in self.pairs_added]
        out += [f"pair {p}: removed, drains" for p in self.pairs_removed]
        out += [
            f"pair {p}: venue/symbol/type changed, drains and restarts"
            for p in self.pairs_restarted
        ]
        out += [
            f"pair {p}: {', '.join(fields)} changed in place"
            for p, fields in self.pairs_retuned.items()
        ]
        out += [f"{section}: changed in place" for section in self.strategy_params]
        return out


def _dump(value: Any) -> Any:
    return value.model_dump(mode="json") if hasattr(value, "model_dump") else value


def _pairs(m: Manifest) -> dict[str, SpotPerpPair | SpotSpotPair]:
    return {p.id: p for p in m.pairs}


def diff_manifests(old: Manifest, new: Manifest) -> ManifestDiff:
    venues_changed = tuple(
        sorted(
            name
            for name in set(old.venues) | set(new.venues)
            if _dump(old.venues.get(name)) != _dump(new.venues.get(name))
        )
    )
    old_pairs, new_pairs = _pairs(old), _pairs(new)
    added = tuple(p for p in new_pairs if p not in old_pairs)
    removed = tuple(p for p in old_pairs if p not in new_pairs)
    restarted: list[str] = []
    retuned: dict[str, tuple[str, ...]] = {}
    for pid in (p for p in new_pairs if p in old_pairs):
        before, after = old_pairs[pid], new_pairs[pid]
        legs = [getattr(after, r).venue for r in ("spot", "perp", "a", "b") if hasattr(after, r)]
        if any(
            _dump(getattr(before, f, None)) != _dump(getattr(after, f, None)) for f in _IDENTITY
        ) or any(v in venues_changed for v in legs):
            restarted.append(pid)
            continue
        changed = []
        if _dump(effective_thresholds(old, before)) != _dump(effective_thresholds(new, after)):
            changed.append("thresholds")
        if _dump(effective_sizing(old, before)) != _dump(effective_sizing(new, after)):
            changed.append("sizing")
        if changed:
            retuned[pid] = tuple(changed)
    sections = tuple(
        s
        for s in ("gates", "hedge", "execution", "risk")
        if _dump_all(getattr(old, s)) != _dump_all(getattr(new, s))
    )
    return ManifestDiff(
        strategy_renamed=old.strategy.name != new.strategy.name,
        venues_changed=venues_changed,
        pairs_added=added,
        pairs_removed=removed,
        pairs_restarted=tuple(restarted),
        pairs_retuned=retuned,
        strategy_params=sections,
    )


def _dump_all(value: Any) -> Any:
    if isinstance(value, list):
        return [_dump(v) for v in value]
    return _dump(value)
