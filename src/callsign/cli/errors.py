"""How a command fails: one line on stderr and an exit code per kind of error, never a
traceback unless --debug (or CALLSIGN_DEBUG=1) asks for it."""

from __future__ import annotations

import sys
from typing import Any

import click

from callsign.cli.state import State
from callsign.domain.errors import (
    CallsignError,
    Conflict,
    InvalidInput,
    NotFound,
    ProviderError,
    Refused,
    StoreUnavailable,
)

EXIT_CODES: dict[type[CallsignError], int] = {
    InvalidInput: 2, NotFound: 3, Refused: 4, Conflict: 5, ProviderError: 6,
    StoreUnavailable: 7, CallsignError: 1,
}
DEBUG_MARK = "_callsign_debug"
DEBUG_HINT = "run again with --debug (or CALLSIGN_DEBUG=1) for the traceback"


def exit_code(error: CallsignError) -> int:
    for kind in type(error).__mro__:
        if kind in EXIT_CODES:
            return EXIT_CODES[kind]
    return 1  # pragma: no cover


class CallsignCommandError(click.ClickException):
    """A CallsignError as Click prints it: one line on stderr, its own exit code."""

    def __init__(self, error: CallsignError) -> None:
        super().__init__(str(error))
        self.exit_code = exit_code(error)  # type: ignore[misc]  # Click reads it per instance


class UnexpectedError(click.ClickException):
    """An error callsign did not raise on purpose: one line naming it, and the hint."""

    exit_code = 1

    def __init__(self, error: BaseException) -> None:
        super().__init__(f"unexpected {describe(error)}; {DEBUG_HINT}")


def describe(error: BaseException) -> str:
    """``Kind: first line of the message``, at most 300 characters."""
    lines = str(error).strip().splitlines()
    text = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
    return text if len(text) <= 300 else f"{text[:297]}..."


def _passes_through(error: Exception) -> bool:
    """Click's own exits and errors, and a closed pipe (Click answers it quietly)."""
    return isinstance(error, click.ClickException | click.exceptions.Exit | click.Abort
                      | EOFError | BrokenPipeError)


class OneLineErrors(click.Group):
    """The top command group: whatever a command raises becomes one line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CallsignError as error:
            raise CallsignCommandError(error) from error
        except Exception as error:
            state = ctx.find_object(State)
            if state is not None and state.debug:
                setattr(error, DEBUG_MARK, True)  # main() lets it through too
                raise
            if _passes_through(error):
                raise
            fault = _store_fault(state, error)
            if fault is not None:  # a store fault outside a unit of work
                raise CallsignCommandError(fault) from error
            raise UnexpectedError(error) from error

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Whatever escapes the commands (closing the store, say) is one line too."""
        try:
            return super().main(*args, **kwargs)
        except CallsignError as error:
            if not kwargs.get("standalone_mode", True):
                raise
            click.echo(f"Error: {error}", err=True)
            sys.exit(exit_code(error))
        except Exception as error:
            if not kwargs.get("standalone_mode", True) or _passes_through(error) \
                    or getattr(error, DEBUG_MARK, False) or _debug_from_environment():
                raise
            click.echo(f"Error: {UnexpectedError(error).message}", err=True)
            sys.exit(UnexpectedError.exit_code)


def _store_fault(state: State | None, error: Exception) -> CallsignError | None:
    """A driver's error as the store translates it (a store fault, a value it refuses),
    else None."""
    if state is None:
        return None
    from callsign.bootstrap import driver_error

    return driver_error(error, state.settings.database_url)


def _debug_from_environment() -> bool:
    from callsign.config import debug_requested

    return debug_requested()
