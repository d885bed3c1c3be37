"""Click and Typer print texts of their own (usage, help titles, errors such as an unknown option)
through gettext's default domain: bound to Stroom's Dutch catalog, the whole command speaks Dutch.

Typer bundles its own copy of Click (typer._click), in which the usage line, the help option and
the usage errors are plain English strings rather than gettext lookups, and labels a value's type
with Python's names (<str>, <int>, and <bool> for a flag). `speak_dutch` routes those few texts
through the same catalog, under Click's own msgids and Python's type names, so that one catalog
decides the language of everything the command prints and any other LANGUAGE still gets Typer's
English."""

from __future__ import annotations

import gettext
import os
import re
from collections.abc import Sequence
from gettext import gettext as _
from os import PathLike
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from typer import _adapters, _click, _coercion, _display, _param_types
from typer._click.exceptions import _join_param_hints
from typer._click.parser import _Option, _OptionParser, _ParsingState
from typer._click.utils import _escape_control_characters, format_filename
from typer.core import TyperGroup, TyperOption, _TyperParameter
from typer.models import ParameterInfo

LOCALE = Path(__file__).parent / "locale"

_bundled_help_option = _click.core.Command.get_help_option
_bundled_no_such_option = _click.exceptions.NoSuchOption.__init__
_bundled_parse_args = _click.core.Command.parse_args
_bundled_resolve_command = TyperGroup.resolve_command
_bundled_type_label = _TyperParameter.display_type
_bundled_option_type = TyperOption.display_type_rich
_bundled_long_option = _OptionParser._match_long_opt
_bundled_option_value = _OptionParser._get_value_from_state
_bundled_value_error = _display.get_error_msg
_bundled_path = _param_types.coerce_cli_path


def speak_dutch() -> None:
    """Dutch unless the user's LANGUAGE asks for another language (gettext then falls back to
    Click's and Typer's English, since Stroom has only the Dutch catalog)."""
    os.environ.setdefault("LANGUAGE", "nl")
    gettext.bindtextdomain("messages", str(LOCALE))
    command = _click.core.Command
    exceptions = _click.exceptions
    command.format_usage = _format_usage  # type: ignore[method-assign]
    command.get_help_option = _help_option  # type: ignore[method-assign]
    command.parse_args = _parse_args  # type: ignore[method-assign]
    TyperGroup.resolve_command = _resolve_command  # type: ignore[method-assign]
    _TyperParameter.display_type = _type_label  # type: ignore[method-assign]
    TyperOption.display_type_rich = _option_type  # type: ignore[method-assign]
    # Both modules imported the function by name.
    _coercion.get_error_msg = _value_error  # type: ignore[attr-defined,assignment]
    _param_types.get_error_msg = _value_error  # type: ignore[attr-defined,assignment]
    _adapters.coerce_cli_path = _path  # type: ignore[attr-defined]
    _OptionParser._match_long_opt = _long_option  # type: ignore[method-assign]
    _OptionParser._get_value_from_state = _option_value  # type: ignore[method-assign]
    exceptions.BadParameter.format_message = _invalid_value  # type: ignore[method-assign]
    exceptions.MissingParameter.format_message = _missing  # type: ignore[method-assign]
    exceptions.NoSuchOption.__init__ = _no_such_option  # type: ignore[method-assign]
    exceptions.NoSuchOption.format_message = _no_such_option_message  # type: ignore[method-assign]


def _format_usage(self: _click.core.Command, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
    # Only Click's placeholders are words of the frame; an argument's name is the command's own.
    placeholders = {"[OPTIONS]": _("[OPTIONS]"), "COMMAND [ARGS]...": _("COMMAND [ARGS]...")}
    pieces = (placeholders.get(piece, piece) for piece in self.collect_usage_pieces(ctx))
    formatter.write_usage(ctx.command_path, " ".join(pieces), prefix=_("Usage: "))


def _help_option(self: _click.core.Command, ctx: _click.Context) -> TyperOption | None:
    option = _bundled_help_option(self, ctx)
    if option is not None:
        option.help = _("Show this message and exit.")
    return option


def _type_label(self: _TyperParameter, ctx: _click.Context) -> str:
    # Typer labels a value with Python's names for its type (<str>, <list[Path]>); a format such as
    # <%Y-%m-%d> or a command's own metavar has no such names and stays as it is.
    names = {
        "str": _("str"),
        "int": _("int"),
        "float": _("float"),
        "datetime": _("datetime"),
        "path": _("path"),
        "Path": _("Path"),
        "list": _("list"),
    }
    return re.sub(r"[A-Za-z]+", lambda name: names.get(name[0], name[0]), _bundled_type_label(self, ctx))


def _option_type(self: TyperOption, ctx: _click.Context) -> str | None:
    # A flag takes no value, so it has no value's type to show.
    return None if self.is_flag and self.metavar is None else _bundled_option_type(self, ctx)


def _parse_args(self: _click.core.Command, ctx: _click.Context, args: list[str]) -> list[str]:
    # Click's own check words its error in English; the same check, made here, words it in Dutch.
    allows_extra = ctx.allow_extra_args
    ctx.allow_extra_args = True
    try:
        rest = _bundled_parse_args(self, ctx, args)
    finally:
        ctx.allow_extra_args = allows_extra
    if rest and not allows_extra and not ctx.resilient_parsing:
        extra = " ".join(_escape_control_characters(str(arg)) for arg in rest)
        ctx.fail(_("Got unexpected extra argument(s) ({args})").format(args=extra))
    return rest


def _resolve_command(
    self: TyperGroup, ctx: _click.Context, args: list[str]
) -> tuple[str | None, _click.Command | None, list[str]]:
    try:
        return _bundled_resolve_command(self, ctx, args)
    except _click.exceptions.UsageError as error:
        # Typer appends its suggestion for a mistyped command in English.
        problem, asks, suggestions = error.message.rpartition(". Did you mean ")
        if asks and suggestions.endswith("?"):
            question = _("Did you mean {suggestions}?").format(suggestions=suggestions.removesuffix("?"))
            error.message = f"{problem}. {question}"
        raise


def _long_option(self: _OptionParser, opt: str, explicit_value: str | None, state: _ParsingState) -> None:
    option = self._long_opt.get(opt)
    if option is not None and not option.takes_value and explicit_value is not None:
        message = _("Option {name!r} does not take a value.").format(name=opt)
        raise _click.exceptions.BadOptionUsage(opt, message, self.ctx)
    _bundled_long_option(self, opt, explicit_value, state)


def _option_value(
    self: _OptionParser, option_name: str, option: _Option, state: _ParsingState
) -> str | Sequence[str]:
    if len(state.rargs) < option.nargs:
        if option.nargs == 1:
            message = _("Option {name!r} requires an argument.").format(name=option_name)
        else:
            message = _("Option {name!r} requires {nargs} arguments.").format(
                name=option_name, nargs=option.nargs
            )
        raise _click.exceptions.BadOptionUsage(option_name, message, self.ctx)
    return _bundled_option_value(self, option_name, option, state)


def _value_error(error: ValidationError) -> str:
    # Pydantic words why a value is not of its type in English; for the types of Stroom's options
    # the catalog has the reason, without pydantic's parser detail.
    reasons = {
        "int_parsing": _("Input should be a valid integer."),
        "int_from_float": _("Input should be a valid integer."),
        "float_parsing": _("Input should be a valid number."),
        "datetime_parsing": _("Input should be a valid datetime or date."),
        "datetime_from_date_parsing": _("Input should be a valid datetime or date."),
    }
    errors = error.errors()
    if not errors:
        return _bundled_value_error(error)
    first = errors[0]
    reason = reasons.get(first["type"])
    if reason is None and first["type"] == "value_error":
        # Typer's own check of a date against the option's formats, which it words in English.
        unmatched = f"{first['input']!r} does not match the formats "
        text = str(first.get("ctx", {}).get("error", ""))
        if text.startswith(unmatched) and text.endswith("."):
            formats = text.removeprefix(unmatched).removesuffix(".")
            reason = _("{value!r} does not match the formats {formats}.").format(
                value=first["input"], formats=formats
            )
    return _escape_control_characters(reason) if reason else _bundled_value_error(error)


def _path(
    value: str | PathLike[str],
    parameter_info: ParameterInfo,
    *,
    path_type: type[Any] | None,
    param: _TyperParameter | None = None,
    ctx: _click.Context | None = None,
) -> str | bytes | PathLike[str] | Path:
    try:
        return _bundled_path(value, parameter_info, path_type=path_type, param=param, ctx=ctx)
    except _click.exceptions.BadParameter as error:
        # Typer's sentences about a path that fails its checks, each with the catalog's wording.
        label = _param_types.path_type_name(parameter_info)
        name = repr(format_filename(value))
        sentences = {
            f"{label} {name} does not exist.": _("{label} {name} does not exist."),
            f"{label} {name} is a file.": _("{label} {name} is a file."),
            f"{label} {name} is a directory.": _("{label} {name} is a directory."),
            f"{label} {name} is not readable.": _("{label} {name} is not readable."),
            f"{label} {name} is not writable.": _("{label} {name} is not writable."),
        }
        if error.message not in sentences:
            raise
        labels = {"file": _("file"), "dir": _("dir"), "path": _("path")}
        message = sentences[error.message].format(label=labels[label], name=name)
        raise _click.exceptions.BadParameter(message, ctx, param) from None


def _hint(error: _click.exceptions.BadParameter) -> str | None:
    if error.param_hint is not None:
        hint: Sequence[str] | str | None = error.param_hint
    elif error.param is not None:
        hint = error.param.get_error_hint()
    else:
        return None
    return _join_param_hints(hint)


def _invalid_value(self: _click.exceptions.BadParameter) -> str:
    hint = _hint(self)
    if hint is None:
        return _("Invalid value: {message}").format(message=self.message)
    return _("Invalid value for {param_hint}: {message}").format(param_hint=hint, message=self.message)


def _missing(self: _click.exceptions.MissingParameter) -> str:
    hint = _hint(self)
    kind = self.param_type or (self.param.param_type_name if self.param is not None else "parameter")
    missing = {"option": _("Missing option"), "argument": _("Missing argument")}.get(kind) or _(
        "Missing {param_type}"
    ).format(param_type=kind)
    text = f"{missing} {hint}" if hint else missing
    extra = self.param.get_missing_message(ctx=self.ctx) if self.param is not None else None
    details = ". ".join(part for part in (self.message, extra) if part)
    return f"{text}. {details}" if details else f"{text}."


def _no_such_option(
    self: _click.exceptions.NoSuchOption,
    option_name: str,
    message: str | None = None,
    possibilities: Sequence[str] | None = None,
    ctx: _click.Context | None = None,
) -> None:
    if message is None:
        message = _("No such option: {name}").format(name=_escape_control_characters(option_name))
    _bundled_no_such_option(self, option_name, message, possibilities, ctx)


def _no_such_option_message(self: _click.exceptions.NoSuchOption) -> str:
    if not self.possibilities:
        return self.message
    possibilities = ", ".join(sorted(self.possibilities))
    return f"{self.message} " + _("(Possible options: {possibilities})").format(possibilities=possibilities)
