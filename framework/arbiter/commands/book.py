"""Book commands: `arbiter book replay` feeds a recorded venue stream through codec and books."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from arbiter.market.codec import UnknownCodecError, load_codec
from arbiter.market.replay import ReplayReport, replay


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


def register(app: typer.Typer) -> None:
    book_app = typer.Typer(help="Order-book tools.", no_args_is_help=True)
    app.add_typer(book_app, name="book")

    @book_app.command("replay")
    def replay_command(
        file: Annotated[Path, typer.Argument(help="Recorded stream: one raw frame per line.")],
        venue: Annotated[str, typer.Option(help="Venue codec to use: bybit or okx.")],
        output: Annotated[
            OutputFormat, typer.Option("--format", help="text for people, json for machines.")
        ] = OutputFormat.TEXT,
    ) -> None:
        """Replay FILE through the venue codec and books; report books, counts and timings.

        Exits 0 even when the stream had gaps (they are reported), 1 when FILE cannot be read.
        """
        try:
            codec = load_codec(venue)
        except UnknownCodecError as exc:
            raise typer.BadParameter(str(exc), param_hint="--venue") from None
        try:
            lines = file.read_bytes().splitlines()
        except OSError as exc:
            typer.echo(f"cannot read {file}: {exc.strerror or exc}", err=True)
            raise typer.Exit(1) from None
        report = replay(codec, lines)
        if output is OutputFormat.JSON:
            typer.echo(json.dumps(report.as_dict()))
        else:
            typer.echo(_text(report))


def _text(report: ReplayReport) -> str:
    out = []
    for book in report.books:
        state = "  STALE" if book.stale else ""
        out.append(
            f"{report.venue}:{book.symbol}  bid {book.best_bid} x {book.best_bid_size}"
            f"  ask {book.best_ask} x {book.best_ask_size}"
            f"  depth {book.bid_levels}/{book.ask_levels}{state}"
        )
    s = report.stats
    out.append(
        f"frames={s.frames} updates_applied={s.updates_applied} gaps={s.gaps}"
        f" resyncs={s.resyncs} checksum_failures={s.checksum_failures} malformed={s.malformed}"
    )
    out.append(
        f"per frame: p50={report.p50_us:.2f}us p99={report.p99_us:.2f}us"
        f" p99.9={report.p999_us:.2f}us  frames/s={report.frames_per_s:,.0f}"
    )
    return "\n".join(out)
