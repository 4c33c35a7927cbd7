"""The `arbiter` command line. Each command group lives in `arbiter.commands.<name>`."""

from __future__ import annotations

import typer

from arbiter.commands import book as book_commands
from arbiter.commands import control as control_commands
from arbiter.commands import demo as demo_commands
from arbiter.commands import manifest as manifest_commands
from arbiter.commands import run as run_commands
from arbiter.commands import sim as sim_commands
from arbiter.commands import venues as venue_commands

app = typer.Typer(
    name="arbiter",
    help="Declarative cross-exchange arbitrage: validate, compile, simulate and run strategies.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

manifest_commands.register(app)
book_commands.register(app)
demo_commands.register(app)
control_commands.register(app)
sim_commands.register(app)
run_commands.register(app)
venue_commands.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
