"""`verify checks`: the registered verifiers and every constraint id with its kwargs."""

from __future__ import annotations

import json
from typing import Any

import click

from verify import verifier as registry


def describe_checks() -> list[dict[str, Any]]:
    out = []
    for name in registry.names():
        try:
            cls = registry.get(name)
        except Exception as exc:
            out.append({"name": name, "error": f"cannot be imported: {type(exc).__name__}: {exc}"})
            continue
        try:
            cls.check_requirements()
            available = True
            missing = ""
        except registry.VerifierUnavailable as exc:
            available, missing = False, str(exc)
        options = {
            key: {"default": field.default if not field.is_required() else None, "required": field.is_required(),
                  "description": field.description or ""}
            for key, field in cls.Options.model_fields.items()
        }
        entry: dict[str, Any] = {
            "name": name, "version": cls.version, "runs_in": cls.runs_in, "extra": cls.extra,
            "description": cls.description, "available": available, "options": options,
        }
        if missing:
            entry["missing"] = missing
        out.append(entry)
    return out


def describe_constraints() -> list[dict[str, Any]]:
    try:
        import constraints
    except ImportError:
        return []
    return list(constraints.describe())


@click.command("checks")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def checks_command(as_json: bool) -> None:
    """List the registered verifiers and every constraint id with its kwargs."""
    checks = describe_checks()
    constraint_ids = describe_constraints()
    if as_json:
        click.echo(json.dumps({"checks": checks, "constraints": constraint_ids}, indent=2, default=str))
        return
    for entry in checks:
        if "error" in entry:
            click.echo(f"{entry['name']}: {entry['error']}")
            continue
        state = "" if entry["available"] else f"  [unavailable: {entry['missing']}]"
        click.echo(f"{entry['name']}@{entry['version']} ({entry['runs_in']}): {entry['description']}{state}")
        for key, option in entry["options"].items():
            click.echo(f"    --set {entry['name']}.{key}=…  default {option['default']!r}  {option['description']}")
    if constraint_ids:
        click.echo("")
        click.echo(f"constraint ids ({len(constraint_ids)}):")
        for item in constraint_ids:
            kwargs = ", ".join(
                f"{k['name']}: {k['type']}{'' if k.get('required', True) else ' (optional)'}" for k in item.get("kwargs", [])
            )
            click.echo(f"  {item['id']}({kwargs})  {item.get('description', '')}")
