"""Where `verify data decontam-index` is mounted from; the command lives in `verify.decontam.cli`."""

from verify.decontam.cli import index_command

__all__ = ["index_command"]
