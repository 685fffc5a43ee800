"""`verify run`: flags and config file in, a Pipeline run, the gate's exit code out."""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

import click
import yaml

from verify.changed import ChangedLinesError, changed_lines
from verify.formats import FORMAT_NAMES
from verify.gate import EXIT_USAGE, annotations, decide, write_step_summary
from verify.pipeline import Pipeline, RunConfig, UsageError
from verify.progress import make_progress
from verify.reader import DEFAULT_MAX_LINE_BYTES, is_url
from verify.report import summary

CONFIG_KEYS = {"format", "workers", "checks", "options", "min_pass_rate", "cache", "plugins", "max_line_bytes"}


def load_config_file(path: Path) -> dict[str, Any]:
    """A YAML or JSON file with any of: format, workers, checks, options, min_pass_rate, cache, plugins."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f"cannot read config file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise UsageError(f"config file {path} must hold a mapping")
    unknown = set(data) - CONFIG_KEYS
    if unknown:
        raise UsageError(f"config file {path}: unknown keys {sorted(unknown)}; allowed: {sorted(CONFIG_KEYS)}")
    for key in ("checks", "options"):
        value = data.get(key, {})
        if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
            raise UsageError(f"config file {path}: '{key}' must map check names to mappings")
    return data


def parse_setting(text: str) -> tuple[str, str, Any]:
    """`check.key=value` → (check, key, value); the value is JSON when it parses, else a string."""
    name_key, sep, raw = text.partition("=")
    check, dot, key = name_key.partition(".")
    if not sep or not dot or not check or not key:
        raise UsageError(f"--set {text!r}: expected CHECK.KEY=VALUE, e.g. math.timeout_s=5")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return check, key, value


@click.command("run")
@click.argument("input_path", metavar="INPUT")
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(path_type=Path),
              help="Output folder: kept/rejected/errors/unchecked/invalid.jsonl, report, manifest.")
@click.option("--format", "fmt", type=click.Choice(FORMAT_NAMES), default=None,
              help="Input row shape; 'auto' (default) decides per file and says what it chose.")
@click.option("--workers", type=int, default=None, help="Worker processes for CPU-bound checks (default: cores; 0: none).")
@click.option("--check", "file_checks", multiple=True, metavar="NAME",
              help="Run this check on every row (e.g. dedup, decontam), besides the checks rows name.")
@click.option("--set", "settings", multiple=True, metavar="CHECK.KEY=VALUE", help="A verifier option, e.g. math.timeout_s=5.")
@click.option("--config", "config_file", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="YAML/JSON file with format, workers, checks, options, min_pass_rate, cache, plugins.")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the verdict cache.")
@click.option("--cache-path", type=click.Path(path_type=Path), default=None,
              help="Verdict cache file (default: the user cache folder's verdicts.sqlite).")
@click.option("--resume", is_flag=True, help="Continue an interrupted run in the same output folder.")
@click.option("--changed-since", metavar="REF", default=None,
              help="Verify only the lines added or changed in INPUT since this git ref.")
@click.option("--min-pass-rate", type=click.FloatRange(0.0, 1.0), default=None,
              help="Gate: pass when kept / (kept + rejected + invalid) is at least this (default: no row may fail).")
@click.option("--github", is_flag=True, help="Print ::error annotations for the 10 worst rows and write $GITHUB_STEP_SUMMARY.")
@click.option("--json", "as_json", is_flag=True, help="Print the final summary as JSON on stdout.")
@click.option("--quiet", is_flag=True, help="No progress output.")
@click.option("--plugin", "plugins", multiple=True, metavar="MODULE", help="Import a module that registers verifiers.")
@click.option("--max-line-bytes", type=int, default=None, help=f"Longer lines are invalid (default {DEFAULT_MAX_LINE_BYTES}).")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", help="Where checks run.")
@click.option("--ray-address", default=None, help="Ray cluster address (default: a local instance on 127.0.0.1).")
def run_command(input_path: str, out_dir: Path, fmt: str | None, workers: int | None, file_checks: tuple[str, ...],
                settings: tuple[str, ...], config_file: Path | None, no_cache: bool, cache_path: Path | None,
                resume: bool, changed_since: str | None, min_pass_rate: float | None, github: bool, as_json: bool,
                quiet: bool, plugins: tuple[str, ...], max_line_bytes: int | None, engine: str,
                ray_address: str | None) -> None:
    """Verify every row of INPUT (JSONL, Parquet or a saved HF dataset; a path or an fsspec URL) and sort it into OUT.

    Exit codes: 0 the gate holds, 1 rows rejected or invalid beyond --min-pass-rate,
    2 usage or environment error.
    """
    try:
        config, min_rate = build_config(
            input_path, out_dir, fmt, workers, file_checks, settings, config_file, no_cache, cache_path, resume,
            changed_since, min_pass_rate, plugins, max_line_bytes, engine, ray_address,
        )
        progress = make_progress(quiet=quiet)
        result = Pipeline(config, progress).run()
    except (UsageError, ChangedLinesError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except KeyboardInterrupt:
        click.echo("interrupted: continue with the same command plus --resume", err=True)
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("SFT_VERIFY_DEBUG"):
            traceback.print_exc()
        click.echo(f"error: {type(exc).__name__}: {exc} (set SFT_VERIFY_DEBUG=1 for a traceback)", err=True)
        sys.exit(EXIT_USAGE)
    data = summary(result)
    if data["rows"] == 0 and not changed_since:
        click.echo(f"error: {input_path} has no rows (empty or only blank lines); nothing was verified", err=True)
        sys.exit(EXIT_USAGE)
    decision = decide(data, min_rate)
    for name, message in result.unavailable.items():
        click.echo(f"error: check {name!r} could not run: {message}", err=True)
    if github:
        for line in annotations(data, str(input_path)):
            click.echo(line)
        write_step_summary(data, decision)
    if as_json:
        click.echo(json.dumps({**data, "out_dir": str(out_dir), "exit_code": decision.code, "gate": decision.message}))
    else:
        counts = data["counts"]
        click.echo(
            f"{decision.message}. kept {counts['kept']}, rejected {counts['rejected']}, errors {counts['errors']}, "
            f"unchecked {counts['unchecked']}, invalid {counts['invalid']} -> {out_dir}",
            err=True,
        )
    sys.exit(decision.code)


def build_config(input_path: str, out_dir: Path, fmt: str | None, workers: int | None, file_checks: tuple[str, ...],
                 settings: tuple[str, ...], config_file: Path | None, no_cache: bool, cache_path: Path | None,
                 resume: bool, changed_since: str | None, min_pass_rate: float | None, plugins: tuple[str, ...],
                 max_line_bytes: int | None, engine: str, ray_address: str | None) -> tuple[RunConfig, float | None]:
    """Merge the config file and the flags (flags win) into a RunConfig."""
    file_config = load_config_file(config_file) if config_file else {}
    checks = {name: dict(spec) for name, spec in file_config.get("checks", {}).items()}
    for name in file_checks:
        checks.setdefault(name, {})
    options = {name: dict(values) for name, values in file_config.get("options", {}).items()}
    for text in settings:
        check, key, value = parse_setting(text)
        options.setdefault(check, {})[key] = value
    chosen_workers = workers if workers is not None else file_config.get("workers", os.cpu_count() or 1)
    if chosen_workers < 0:
        raise UsageError("--workers must be 0 or more")
    if ray_address and engine != "ray":
        raise UsageError("--ray-address needs --engine ray")
    source: Path | str = input_path if is_url(input_path) else Path(input_path)
    if changed_since and is_url(source):
        raise UsageError("--changed-since needs a local file in a git checkout, not a URL")
    changed = changed_lines(source, changed_since) if changed_since else None  # type: ignore[arg-type]
    config = RunConfig(
        input=source,
        out_dir=out_dir,
        format=fmt or file_config.get("format", "auto"),
        workers=chosen_workers,
        file_checks=checks,
        options=options,
        use_cache=not no_cache and file_config.get("cache", True),
        cache_path=cache_path,
        resume=resume,
        changed_lines=changed,
        changed_since=changed_since,
        plugins=tuple(file_config.get("plugins", [])) + plugins,
        max_line_bytes=max_line_bytes or file_config.get("max_line_bytes", DEFAULT_MAX_LINE_BYTES),
        engine=engine,
        engine_options={"address": ray_address} if engine == "ray" else {},
    )
    return config, min_pass_rate if min_pass_rate is not None else file_config.get("min_pass_rate")
