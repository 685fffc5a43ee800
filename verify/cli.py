"""The `verify` command: thin subcommands over the library (llm's shape, without its giant cli.py).

Subcommands owned by other packages (`sandbox`, `train`, `compare-methods`, ...) are imported
only when invoked, so a missing optional extra never breaks `verify --help` or `verify run`.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

# name -> ("module:attribute" of a click command or group, imported on first use; short help).
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("verify.cli_run:run_command", "Verify every row of a dataset and sort it into kept / rejected / ..."),
    "checks": ("verify.cli_checks:checks_command", "List the verifiers and every constraint id with its kwargs."),
    "sandbox": ("sandbox.cli:sandbox_group", "Build and diagnose the Docker sandbox that code checks run in."),
    "train": ("train.cli:train_command", "Fine-tune a model (LoRA and other PEFT methods) on the rows a run kept."),
    "compare-methods": ("train.cli:compare_methods_command", "Train several PEFT methods on the same budget and compare."),
    "data": ("verify.cli_data:data_group", "Install data that checks need offline (punkt, decontamination indexes)."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in LAZY_COMMANDS:
            return super().get_command(ctx, cmd_name)
        target, short_help = LAZY_COMMANDS[cmd_name]
        module_name, _, attribute = target.partition(":")
        try:
            return getattr(importlib.import_module(module_name), attribute)
        except ImportError as exc:
            return _unavailable_command(cmd_name, short_help, exc)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List subcommands from the static table: `verify --help` imports none of them."""
        rows = [(name, LAZY_COMMANDS[name][1]) for name in sorted(LAZY_COMMANDS)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _unavailable_command(name: str, short_help: str, exc: ImportError) -> click.Command:
    def explain() -> None:
        click.echo(f"error: `verify {name}` is unavailable here: {exc}. Install the extra it needs "
                   "(see README: pip install 'sft-verify[train]' for train commands).", err=True)
        raise SystemExit(2)

    return click.Command(name, callback=explain, help=short_help, context_settings={"ignore_unknown_options": True,
                                                                                      "allow_extra_args": True})


@click.group(cls=LazyGroup)
@click.version_option(package_name="sft-verify")
def cli() -> None:
    """sft-verify: keep the SFT rows that verifiably hold, train on exactly those."""


def main(argv: list[str] | None = None) -> Any:
    return cli.main(args=argv, prog_name="verify")


if __name__ == "__main__":
    main()
