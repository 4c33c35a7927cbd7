"""Hot reload decisions: validate first, keep the old version on error, diff what changed."""

from __future__ import annotations

import os
from pathlib import Path

from arbiter.manifest.yaml_source import SourceError
from arbiter.runtime.reload import ManifestWatcher, ReloadManager
from tests.support.manifest_samples import MINIMAL


def _save(path: Path, text: str) -> None:
    """Save like an editor does: write a temp file and rename it over the original."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _start(tmp_path: Path) -> tuple[Path, ManifestWatcher, ReloadManager]:
    path = tmp_path / "s.yaml"
    _save(path, MINIMAL)
    watcher, manager = ManifestWatcher([tmp_path]), ReloadManager()
    (decision,) = manager.apply(watcher.scan())
    assert decision.action == "start"
    assert decision.strategy == "t"
    return path, watcher, manager


def test_scan_when_nothing_changed_reports_nothing(tmp_path: Path) -> None:
    _, watcher, _ = _start(tmp_path)
    assert watcher.scan() == []


def test_edit_when_valid_is_applied_with_its_diff(tmp_path: Path) -> None:
    path, watcher, manager = _start(tmp_path)
    _save(path, MINIMAL.replace("entry_bps: 10", "entry_bps: 14"))
    (decision,) = manager.apply(watcher.scan())
    assert decision.action == "apply"
    assert decision.describe() == "pair btc: thresholds changed in place"
    assert manager.running[path].manifest.thresholds.entry_bps == 14


def test_edit_when_invalid_keeps_old_version_and_records_error(tmp_path: Path) -> None:
    path, watcher, manager = _start(tmp_path)
    running_before = manager.running[path]
    _save(path, MINIMAL.replace("exit_bps: 2", "exit_bps: 20"))
    (decision,) = manager.apply(watcher.scan())
    assert decision.action == "rejected"
    assert manager.running[path] is running_before
    assert (
        manager.last_error[path]
        == f"{path}:13:13: thresholds: expected exit_bps < entry_bps, was 20 >= 10"
    )
    _save(path, MINIMAL.replace("entry_bps: 10", "entry_bps: 12"))  # fixed: error clears
    (decision,) = manager.apply(watcher.scan())
    assert decision.action == "apply"
    assert path not in manager.last_error


def test_file_when_rewritten_identically_is_unchanged(tmp_path: Path) -> None:
    path, watcher, _manager = _start(tmp_path)
    _save(path, MINIMAL)
    assert watcher.scan() == []  # new inode, same content hash


def test_directory_when_file_added_or_deleted_starts_or_drains(tmp_path: Path) -> None:
    _, watcher, manager = _start(tmp_path)
    second = tmp_path / "b.yaml"
    _save(second, MINIMAL.replace("name: t", "name: second"))
    (decision,) = manager.apply(watcher.scan())
    assert (decision.action, decision.strategy) == ("start", "second")
    second.unlink()
    (decision,) = manager.apply(watcher.scan())
    assert (decision.action, decision.strategy) == ("drain", "second")
    assert second not in manager.running


def test_new_file_when_strategy_name_already_running_is_rejected(tmp_path: Path) -> None:
    path, watcher, manager = _start(tmp_path)
    clash = tmp_path / "clash.yaml"
    _save(clash, MINIMAL)
    (decision,) = manager.apply(watcher.scan())
    assert decision.action == "rejected"
    assert f"strategy name 't' is already running from {path}" in decision.describe()
    assert clash not in manager.running


def test_non_yaml_files_when_in_watched_directory_are_ignored(tmp_path: Path) -> None:
    _, watcher, _ = _start(tmp_path)
    (tmp_path / "notes.txt").write_text("hello")
    assert watcher.scan() == []


def test_refuse_when_an_applied_edit_fails_puts_the_previous_version_back(tmp_path: Path) -> None:
    path, watcher, manager = _start(tmp_path)
    running_before = manager.running[path]
    _save(path, MINIMAL.replace("entry_bps: 10", "entry_bps: 14"))
    (decision,) = manager.apply(watcher.scan())
    assert decision.previous is running_before
    error = SourceError("okx lists no perp 'X'", "pairs[0].perp.symbol", 12, 29)
    text = manager.refuse(path, [error], keep=decision.previous)
    assert text == f"{path}:12:29: pairs[0].perp.symbol: okx lists no perp 'X'"
    assert manager.running[path] is running_before
    assert manager.last_error[path] == text
    _save(path, MINIMAL.replace("entry_bps: 10", "entry_bps: 12"))  # diffed against the old one
    (decision,) = manager.apply(watcher.scan())
    assert decision.describe() == "pair btc: thresholds changed in place"
    assert path not in manager.last_error


def test_refuse_when_a_new_file_fails_to_start_leaves_nothing_running_from_it(
    tmp_path: Path,
) -> None:
    _, watcher, manager = _start(tmp_path)
    second = tmp_path / "b.yaml"
    _save(second, MINIMAL.replace("name: t", "name: second"))
    (decision,) = manager.apply(watcher.scan())
    assert (decision.action, decision.previous) == ("start", None)
    manager.refuse(second, [SourceError("cannot open: refused", "venues.okx", 6, 8)], keep=None)
    assert second not in manager.running
    assert manager.last_error[second] == f"{second}:6:8: venues.okx: cannot open: refused"
