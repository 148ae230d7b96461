"""The root of the command line: one `Env` per invocation, and every error rendered once.

A `DuckError` becomes its paragraph on stderr and its exit code; with --json on the command
line, the error document goes to stdout as well (for click's usage errors too, which click
itself explains on stderr). `--debug` (or DUCK_DEBUG) lets the traceback through instead.
"""

from __future__ import annotations

import typer
from typer.core import TyperGroup

from duck_cli.errors import (DuckError, ExitCode, InternalError, Interrupted, StateError,
                             UsageError)

_ARGV = "duck.argv"  # where the root context keeps the command line it was given


class RootGroup(TyperGroup):
    """The root group: builds the Env, renders every error, maps it to its exit code.

    Commands named in ``lazy`` load their module only when the command line names them, or
    when every command is listed (help, completion, an unknown name's suggestions, the docs):
    a command never pays for importing and building the others' (`duck diff`'s, `duck env`'s).
    """

    # (name, "module:attribute", the command it follows in the listing); the attribute is a
    # command function or a Typer (a group)
    lazy: tuple[tuple[str, str, str], ...] = ()

    def get_command(self, ctx, cmd_name):
        found = super().get_command(ctx, cmd_name)
        spec = next((s for s in self.lazy if s[0] == cmd_name), None)
        if found is None and spec is not None:
            found = self.commands[cmd_name] = _load(spec, self.rich_markup_mode)
        return found

    def list_commands(self, ctx):
        self.load_all()
        return super().list_commands(ctx)

    def resolve_command(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in {s[0] for s in self.lazy}:
            self.load_all()  # an unknown name: its "Did you mean" weighs every command
        return super().resolve_command(ctx, args)

    def load_all(self) -> None:
        """Load every lazy command, each after the command it follows in the listing."""
        loaded = dict(self.commands)
        for name, _path, _after in self.lazy:
            self.get_command(None, name)
        ordered = {}
        for name in loaded:
            ordered[name] = self.commands[name]
            for lazy_name, _path, after in self.lazy:  # in order: a chain follows its head
                if after in ordered and lazy_name not in ordered:
                    ordered[lazy_name] = self.commands[lazy_name]
        self.commands = {**ordered, **self.commands}

    def make_context(self, info_name, args, parent=None, **extra):
        argv = tuple(args)  # before parsing consumes them: the run record and --json need them
        ctx = super().make_context(info_name, args, parent=parent, **extra)
        ctx.meta.setdefault(_ARGV, argv)
        return ctx

    def invoke(self, ctx):
        if ctx.parent is not None:  # a subgroup (`runs`): the root handles errors
            return super().invoke(ctx)
        from duck_cli.cli.env import Env

        env = ctx.obj = Env.from_process(ctx.meta.get(_ARGV, ()),
                                         debug=bool(ctx.params.get("debug")))
        try:
            return super().invoke(ctx)
        except DuckError as err:
            if env.debug:
                raise
            _report(env, err)
            raise typer.Exit(int(err.exit_code)) from None
        except typer.TyperException as err:  # click's usage errors: bad values, unknown options
            if env.wants_json:
                _report(env, _usage_error(err), stderr=False)
            raise
        except (typer.Exit, typer.Abort):  # click's own ways out: their exit code stands
            raise
        except Exception as err:
            if env.debug:
                raise
            known = _state_error(err) if _from_postgres(err) else _internal_error(ctx, err)
            _report(env, known)
            raise typer.Exit(int(known.exit_code)) from None
        except KeyboardInterrupt:
            env.stderr.write("interrupted\n")
            if env.wants_json:
                _report(env, Interrupted("interrupted"), stderr=False)
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None


def _load(spec: tuple[str, str, str], markup):
    """The click command of a lazy command: its module imported, its command built."""
    from importlib import import_module

    from typer.main import get_command_from_info, get_group_from_info
    from typer.models import CommandInfo, TyperInfo

    name, path, _after = spec
    module, attribute = path.split(":")
    target = getattr(import_module(module), attribute)
    if isinstance(target, typer.Typer):
        return get_group_from_info(TyperInfo(target, name=name), pretty_exceptions_short=True,
                                   rich_markup_mode=markup, suggest_commands=True)
    return get_command_from_info(CommandInfo(name=name, callback=target),
                                 pretty_exceptions_short=True, rich_markup_mode=markup)


def _from_postgres(err: BaseException) -> bool:
    """Whether ``err`` is psycopg's (the state in PostgreSQL), without importing psycopg."""
    return type(err).__module__.split(".")[0] == "psycopg"


def _state_error(err: BaseException) -> StateError:
    """A PostgreSQL error no layer below turned into its own message, as one paragraph: the
    server's first line (never the connection string, which psycopg's messages omit)."""
    first = (str(err).strip().splitlines() or [type(err).__name__])[0]
    return StateError(f"the PostgreSQL state refused an operation ({type(err).__name__}): "
                      f"{first}", hint="Run `duck doctor` to check the state's schema and "
                      "connection, then the command again (what was already published is "
                      "recorded from the warehouse's ledger); `--debug` shows where it failed.")


def _internal_error(ctx, err: BaseException) -> InternalError:
    """An error no layer expected (a bug in duck) as one paragraph: what it was, that what
    was published stays published, and how to get the traceback for a report."""
    from duck_cli.state.lake_config import redact

    command = " ".join(["duck", *([ctx.invoked_subcommand] if ctx.invoked_subcommand else [])])
    first = redact((str(err).strip().splitlines() or [""])[0])
    what = f"{type(err).__name__}: {first}" if first else type(err).__name__
    return InternalError(
        f"`{command}` stopped on an error duck did not expect ({what}); this is a bug in "
        "duck, not in the project. What was already published stays in the warehouse and the "
        "next command records it from the warehouse's ledger",
        hint="Run the command again with DUCK_DEBUG=1 (or `duck --debug ...`) to see where it "
             "failed, and report it with that traceback.")


def _report(env, err: DuckError, stderr: bool = True) -> None:
    """The error for people on stderr; with --json, its document on stdout as well."""
    from duck_cli.report import error_document, render

    if env.wants_json:
        render.emit_json(env.screen, error_document.error_doc(err))
    if stderr:
        render.error(env.screen, err)


def _usage_error(err: typer.TyperException) -> UsageError:
    """Click's usage error as duck's, for the --json error document (click prints its own)."""
    ctx = getattr(err, "ctx", None)
    hint = f"Run `{ctx.command_path} --help` for its options." if ctx is not None else None
    return UsageError(err.format_message(), hint=hint)


