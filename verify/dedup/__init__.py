"""Exact and near-duplicate detection across rows (the `dedup` check)."""

from verify.dedup.verifier import DedupOptions, DedupVerifier

__all__ = ["DedupOptions", "DedupVerifier"]
