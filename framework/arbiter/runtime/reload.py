"""Hot reload: notice manifest edits, validate them first, and say exactly what changed.

`ManifestWatcher.scan()` compares each watched file's content hash with the last one seen
(stat first, so an idle scan reads nothing). Directories are watched for `*.yaml` files coming
and going. `ReloadManager.apply()` turns what the scan found into decisions:

- an invalid new version never replaces a running one: the old keeps running, the error (with
  file:line:col) is kept per file and shown in status;
- a valid new version is diffed against the running one (`arbiter.manifest.diff`);
- a new file starts a strategy, a deleted file drains it, a file whose strategy name collides
  with another running strategy is refused like an invalid file.

A decision the manager takes is not yet in effect: the runtime then checks the version against
the venues (`arbiter.manifest.listings`: every symbol listed, as the right product) and applies
it. If that refuses or fails, `refuse` puts back the version that was running before, with the
error (file:line:col where it has a field) kept for the file as for an invalid one.

The runtime polls `scan()` every `DEFAULT_POLL_S` (and on SIGHUP or `arbiter reload`), which
keeps the file-saved-to-change-in-effect latency under 200 ms without a notification library.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from arbiter.manifest.diff import ManifestDiff, diff_manifests
from arbiter.manifest.loader import LoadedManifest, ManifestError, load_manifest_bytes
from arbiter.manifest.yaml_source import MAX_FILE_BYTES, SourceError

DEFAULT_POLL_S = 0.05


@dataclass(frozen=True, slots=True)
class FileChange:
    path: Path
    kind: str  # "added", "modified" or "deleted"
    content: bytes = b""


@dataclass
class _Seen:
    stat: tuple[
        int, int, int, int
    ]  # (mtime_ns, ctime_ns, size, inode): editors that save by rename change the inode
    sha256: str


class ManifestWatcher:
    def __init__(self, targets: list[Path]) -> None:
        self.targets = [Path(t) for t in targets]
        self._seen: dict[Path, _Seen] = {}

    def files(self) -> list[Path]:
        out: list[Path] = []
        for target in self.targets:
            if target.is_dir():
                out.extend(sorted(p for p in target.glob("*.yaml") if p.is_file()))
            elif target.exists():
                out.append(target)
        return out

    def scan(self) -> list[FileChange]:
        changes: list[FileChange] = []
        present = set()
        for path in self.files():
            present.add(path)
            try:
                st = path.stat()
                key = (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)
                seen = self._seen.get(path)
                if seen is not None and seen.stat == key:
                    continue
                with open(path, "rb") as fh:
                    content = fh.read(MAX_FILE_BYTES + 1)
            except OSError:
                continue  # vanished between listing and reading: the next scan reports it
            digest = hashlib.sha256(content).hexdigest()
            if seen is not None and seen.sha256 == digest:
                seen.stat = key  # touched, not changed
                continue
            self._seen[path] = _Seen(key, digest)
            changes.append(FileChange(path, "added" if seen is None else "modified", content))
        for gone in [p for p in self._seen if p not in present]:
            del self._seen[gone]
            changes.append(FileChange(gone, "deleted"))
        return changes


@dataclass(frozen=True, slots=True)
class ReloadDecision:
    path: Path
    action: str  # "start", "apply", "drain", "rejected", "unchanged"
    strategy: str = ""
    manifest: LoadedManifest | None = None
    diff: ManifestDiff | None = None
    errors: tuple[SourceError, ...] = ()
    previous: LoadedManifest | None = None  # what ran from this file before the decision

    def describe(self) -> str:
        if self.errors:
            return "\n".join(e.render(str(self.path)) for e in self.errors)
        if self.diff is not None:
            return "; ".join(self.diff.lines()) or "no effective change"
        return f"{self.action} {self.strategy}"


@dataclass
class ReloadManager:
    running: dict[Path, LoadedManifest] = field(default_factory=dict)
    last_error: dict[Path, str] = field(default_factory=dict)
    plugins: Collection[str] | None = None  # installed venue plugins a manifest may name

    def strategy_of(self, path: Path) -> str | None:
        loaded = self.running.get(path)
        return loaded.manifest.strategy.name if loaded else None

    def apply(self, changes: list[FileChange]) -> list[ReloadDecision]:
        decisions = []
        for change in changes:
            try:
                decision = self._decide(change)
            except Exception as exc:  # one file must never stop the others' decisions
                decision = ReloadDecision(
                    change.path,
                    "rejected",
                    self.strategy_of(change.path) or "",
                    errors=(SourceError(f"could not read this version: {exc!r}"),),
                )
            if decision.action == "rejected":
                self.last_error[change.path] = decision.describe()
            else:
                self.last_error.pop(change.path, None)
            if decision.action in ("start", "apply") and decision.manifest is not None:
                self.running[change.path] = decision.manifest
            elif decision.action == "drain":
                self.running.pop(change.path, None)
            decisions.append(decision)
        return decisions

    def refuse(self, path: Path, errors: Sequence[SourceError], keep: LoadedManifest | None) -> str:
        """The runtime could not put a decided version of `path` in effect (a venue does not
        list a symbol, an account would not open, applying raised): `keep` (what still runs
        from the file, None if nothing) is its version again, and the error is kept for the
        file. Returns the error as rendered."""
        text = "\n".join(e.render(str(path)) for e in errors)
        if keep is None:
            self.running.pop(path, None)
        else:
            self.running[path] = keep
        self.last_error[path] = text
        return text

    def _decide(self, change: FileChange) -> ReloadDecision:
        old = self.running.get(change.path)
        if change.kind == "deleted":
            if old is None:
                return ReloadDecision(change.path, "unchanged")
            return ReloadDecision(
                change.path, "drain", old.manifest.strategy.name, old, previous=old
            )
        try:
            new = load_manifest_bytes(change.content, str(change.path), self.plugins)
        except ManifestError as exc:
            return ReloadDecision(
                change.path,
                "rejected",
                self.strategy_of(change.path) or "",
                errors=tuple(exc.errors),
            )
        name = new.manifest.strategy.name
        for other_path, other in self.running.items():
            if other_path != change.path and other.manifest.strategy.name == name:
                pos = new.document.position_of(("strategy", "name"))
                error = SourceError(
                    f"strategy name {name!r} is already running from {other_path}",
                    "strategy.name",
                    pos.line,
                    pos.column,
                )
                return ReloadDecision(change.path, "rejected", name, errors=(error,))
        if old is None:
            return ReloadDecision(change.path, "start", name, new)
        if old.sha256 == new.sha256:
            return ReloadDecision(change.path, "unchanged", name, old, previous=old)
        diff = diff_manifests(old.manifest, new.manifest)
        return ReloadDecision(change.path, "apply", name, new, diff, previous=old)
