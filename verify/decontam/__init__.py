"""Benchmark decontamination by word n-gram overlap (the `decontam` check)."""

from verify.decontam.verifier import DecontamOptions, DecontamVerifier

__all__ = ["DecontamOptions", "DecontamVerifier"]
