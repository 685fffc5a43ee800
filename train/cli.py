"""`verify train` and `verify compare-methods`: thin click commands over train.trainer and train.compare.

The flags are generated from `TrainConfig`'s fields (name, type, description, default), so
`--help`, config files and the library cannot drift apart. Library errors (`TrainError`)
become one line on stderr and exit code 2 (DESIGN.md §4). Importing this module is cheap:
torch and transformers load only when a command runs.
"""

from __future__ import annotations

import sys
import types
import typing
from pathlib import Path
from typing import Any, get_args, get_origin

import click

from train.config import TrainConfig, build_config, parse_option_assignments, read_config_file
from train.errors import TrainError

# Fields that are not plain flags: positional, repeated -O, or chosen per command.
SPECIAL_FIELDS = {"data", "method_options", "method"}
SHORT_NAMES = {"learning_rate": ("--lr",), "output": ("-o",)}
COMPARE_EXCLUDED = {"merge", "resume"}


def _click_type(annotation: Any) -> tuple[Any, bool]:
    """(click type, is_flag) for a TrainConfig field annotation."""
    origin = get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [arg for arg in get_args(annotation) if arg is not type(None)]
        return _click_type(inner[0])
    if origin is typing.Literal:
        return click.Choice([str(arg) for arg in get_args(annotation)]), False
    if annotation is bool:
        return bool, True
    if annotation in (int, float):
        return annotation, False
    if annotation is Path:
        return click.Path(path_type=Path), False
    return str, False


def config_options(excluded: set[str] = frozenset()) -> Any:
    """Decorator adding one click option per TrainConfig field (defaults stay None: unset means 'not given')."""

    def decorate(command: Any) -> Any:
        for name, field in reversed(list(TrainConfig.model_fields.items())):
            if name in SPECIAL_FIELDS or name in excluded:
                continue
            kind, is_flag = _click_type(field.annotation)
            flag = "--" + name.replace("_", "-")
            default = field.default
            shown = (
                ""
                if default is None or field.is_required()
                else f" [default: {str(default).lower() if isinstance(default, bool) else default}]"
            )
            help_text = (field.description or "") + shown
            if is_flag:
                decls = [f"{flag}/--no-{name.replace('_', '-')}"]
                option = click.option(*decls, name, default=None, help=help_text)
            else:
                decls = [flag, *SHORT_NAMES.get(name, ())]
                option = click.option(*decls, name, type=kind, default=None, help=help_text)
            command = option(command)
        return command

    return decorate


def _flag_values(params: dict[str, Any]) -> dict[str, Any]:
    return {
        name: params.get(name) for name in TrainConfig.model_fields if name not in SPECIAL_FIELDS and name in params
    }


def _fail(exc: Exception) -> None:
    click.echo(f"Error: {exc}", err=True)
    sys.exit(2)


def _list_methods() -> None:
    from train.methods import METHODS

    for method in METHODS.values():
        info = method.describe()
        options = ", ".join(f"{key}={value}" for key, value in info["options"].items()) or "-"
        click.echo(f"{method.name:14} {method.family:16} lr {method.default_learning_rate:g}  {method.description}")
        click.echo(f"{'':14} options: {options}")


@click.command("train")
@click.argument("out_dir", required=False, type=click.Path(path_type=Path))
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML or JSON file with these options (flags win)",
)
@click.option("--method", default=None, help="fine-tuning method (see --list-methods) [default: lora]")
@click.option(
    "-O",
    "--method-option",
    "method_option",
    multiple=True,
    metavar="KEY=VALUE",
    help="a method hyper-parameter, e.g. -O r=8 -O target_modules=[q_proj,v_proj]",
)
@click.option("--plan", is_flag=True, help="print each method's trainable parameters and estimated memory, then stop")
@click.option("--list-methods", is_flag=True, help="list the methods with their defaults, then stop")
@config_options()
def train_command(
    out_dir: Path | None,
    config_file: Path | None,
    method: str | None,
    method_option: tuple[str, ...],
    plan: bool,
    list_methods: bool,
    **flags: Any,
) -> None:
    """Fine-tune a causal LM on the rows a `verify run` kept (OUT_DIR), and only those.

    Writes the adapter (or, for bitfit/full, its own format) to --output, with the tokenizer and
    training.json (options, data provenance, losses, tokens/s, peak memory)."""
    if list_methods:
        _list_methods()
        return
    try:
        file_values = read_config_file(config_file) if config_file else {}
        values = _flag_values(flags) | {"method_options": parse_option_assignments(method_option), "method": method}
        if out_dir is not None:
            values["data"] = out_dir
        if plan:
            _print_plan(file_values, values)
            return
        config = build_config(file_values, values)
        from train.trainer import Trainer

        Trainer(config).run()
    except TrainError as exc:
        _fail(exc)


def _print_plan(file_values: dict[str, Any], values: dict[str, Any]) -> None:
    from rich.console import Console

    from train.plan import plan_for, render_plan

    merged = dict(file_values)
    merged.update({key: value for key, value in values.items() if value is not None and key != "method_options"})
    if not merged.get("model"):
        raise TrainError("--plan needs --model")
    rows, description = plan_for(merged, values.get("method_options") or {})
    console = Console() if sys.stdout.isatty() else Console(width=200)
    console.print(render_plan(rows, merged.get("method") or "lora", description))


@click.command("compare-methods")
@click.argument("out_dir", type=click.Path(path_type=Path))
@click.option("--methods", required=True, help="comma-separated methods to train, e.g. lora,ia3,bitfit (or 'all')")
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML or JSON file with the shared options",
)
@click.option(
    "-O",
    "--method-option",
    "method_option",
    multiple=True,
    metavar="METHOD.KEY=VALUE",
    help="a method's hyper-parameter, e.g. -O lora.r=8",
)
@config_options(excluded=COMPARE_EXCLUDED)
def compare_methods_command(
    out_dir: Path, methods: str, config_file: Path | None, method_option: tuple[str, ...], **flags: Any
) -> None:
    """Train each method for the same budget on OUT_DIR's verified rows and compare them.

    Prints a table (trainable parameters, peak memory against the estimate, tokens/s, train
    and held-out loss) and writes compare.md, compare.json and, with matplotlib, compare.png
    (held-out loss against step) to --output; each method's adapter goes to --output/METHOD."""
    from train.compare import compare_methods, parse_methods, split_method_options

    try:
        file_values = read_config_file(config_file) if config_file else {}
        chosen = parse_methods(methods)
        per_method = split_method_options(
            parse_option_assignments(method_option), chosen, file_values.pop("method_options", None)
        )
        values = _flag_values(flags) | {"data": out_dir}
        compare_methods(file_values, values, chosen, per_method)
    except TrainError as exc:
        _fail(exc)
