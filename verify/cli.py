"""The `verify` command: thin subcommands over the library (llm's shape, without its giant cli.py).

Subcommands owned by other packages (`sandbox`, `train`, `compare-methods`, ...) are imported
only when invoked, so a missing optional extra never breaks `verify --help` or `verify run`.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

# name -> "module:attribute" of a click command or group, imported on first use.
LAZY_COMMANDS: dict[str, str] = {
    "run": "verify.cli_run:run_command",
    "checks": "verify.cli_checks:checks_command",
    "sandbox": "sandbox.cli:sandbox_group",
    "train": "train.cli:train_command",
    "compare-methods": "train.cli:compare_methods_command",
    "data": "verify.cli_data:data_group",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS:
            module_name, _, attribute = LAZY_COMMANDS[cmd_name].partition(":")
            return getattr(importlib.import_module(module_name), attribute)
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup)
@click.version_option(package_name="sft-verify")
def cli() -> None:
    """sft-verify: keep the SFT rows that verifiably hold, train on exactly those."""


def main(argv: list[str] | None = None) -> Any:
    return cli.main(args=argv, prog_name="verify")


if __name__ == "__main__":
    main()
