"""sft-verify: decide which synthesized SFT pairs are correct enough to train on."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sft-verify")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"
