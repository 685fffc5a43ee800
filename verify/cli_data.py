"""`verify data …`: one-time downloads and indexes that checks need (punkt, decontamination indexes)."""

from __future__ import annotations

import importlib

import click

DATA_COMMANDS = {
    "punkt": "constraints.punkt:punkt_command",
    "decontam-index": "verify.decontam.cli:index_command",
}


class DataGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(DATA_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = DATA_COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, _, attribute = target.partition(":")
        return getattr(importlib.import_module(module_name), attribute)


@click.group("data", cls=DataGroup)
def data_group() -> None:
    """Install data that checks need offline: nltk's punkt model, decontamination indexes."""
