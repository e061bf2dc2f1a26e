"""The ``posefast`` command. Each subcommand lives in its own module of this package,
which defines ``add_parser(subparsers)`` and sets ``func`` (args -> exit status)."""
from __future__ import annotations

import argparse
import difflib
import importlib
import re
import signal
import sys
import threading
from typing import Sequence

#: Subcommand modules, in the order ``posefast --help`` lists them.
COMMANDS = ("predict", "run", "eval", "backends", "models", "convert", "config")


class Parser(argparse.ArgumentParser):
    """argparse's parser, with what a user who mistyped needs: an unknown option is
    reported by the subcommand it was given to (its usage, not the top level's), with
    the option it was probably meant to be; a mistyped command, likewise. (Python
    3.14's ``suggest_on_error`` does some of this; 3.10 to 3.13 have nothing.)"""

    def parse_args(self, args=None, namespace=None):  # type: ignore[override]
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            # argparse hands a subcommand's unknown arguments up to the top parser,
            # which reported them under its own usage
            commands = _subcommands(self)
            target = commands.get(getattr(parsed, "command", None), self)
            target.error(f"unrecognized arguments: {' '.join(extras)}"
                         f"{_meant(extras, target, commands)}")
        return parsed

    def error(self, message: str):  # type: ignore[override]
        choice = re.match(r"argument .*: invalid choice: '([^']*)' \(choose from (.*)\)$",
                          message)
        if choice:
            # (the choices are quoted up to Python 3.12, bare in later versions)
            names = [c.strip().strip("'") for c in choice.group(2).split(",")]
            close = difflib.get_close_matches(choice.group(1), names, n=1)
            if close:
                message += f"; did you mean {close[0]!r}?"
        super().error(message)


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _meant(extras: list[str], parser: argparse.ArgumentParser,
           commands: dict[str, argparse.ArgumentParser]) -> str:
    """ " (did you mean --output?)" for each unknown option that is close to one of
    ``parser``'s, or that belongs to another command."""
    known = [o for action in parser._actions for o in action.option_strings]
    hints = []
    for extra in extras:
        name = extra.split("=", 1)[0]
        if not name.startswith("-") or name in ("-", "--"):
            continue
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.7)
        if close:
            hints.append(f"{name}: did you mean {close[0]}?")
            continue
        elsewhere = [c for c, p in commands.items() if p is not parser and name in
                     {o for a in p._actions for o in a.option_strings}]
        if elsewhere:
            hints.append(f"{name} is an option of {' and '.join(f'posefast {c}' for c in elsewhere)}")
    return f" ({'; '.join(hints)})" if hints else ""


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="posefast",
        description="Human pose estimation with PoseNet: fast decoding, pluggable backends.",
        epilog="examples:\n"
               "  posefast predict photo.jpg --render out.png   # poses of one image, drawn\n"
               "  posefast run photos/ --output poses.jsonl     # a whole folder, in parallel\n"
               "  posefast eval poses.jsonl --annotations person_keypoints.json  # COCO AP\n"
               "  posefast config                               # the settings, and their sources\n"
               "  posefast COMMAND --help                       # each command's options",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from .. import __version__
    from ..decode import SIMD

    # which build of the decoding kernels runs here (see posefast.decode), for reports
    parser.add_argument("--version", action="version",
                        version=f"posefast {__version__} (decoder kernels: {SIMD})")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").add_parser(sub)
    return parser


_sigints = 0


def _on_sigint(signum, frame) -> None:
    global _sigints
    _sigints += 1
    raise KeyboardInterrupt


def _unraisable(info) -> None:
    """``sys.unraisablehook`` while a command runs: a KeyboardInterrupt that Python
    could not raise (it came inside one of its own callbacks, such as the import
    system's, and is dropped) is not printed as "Exception ignored ... Traceback":
    it was counted, and the command stops at its next look (:func:`interrupted`)."""
    if not isinstance(info.exc_value, KeyboardInterrupt):
        sys.__unraisablehook__(info)


def interrupted() -> bool:
    """Whether Ctrl-C came since :func:`main` started. The KeyboardInterrupt it raises
    can be lost on its way: raised inside the inference runtime while it loads a
    model, it came back as "initialization failed" (a refused model, exit 2) or not
    at all (the job then ran to its end). The commands ask here after such calls."""
    return _sigints > 0


def main(argv: Sequence[str] | None = None, *, exits_after: bool = False) -> int:
    """Entry point: returns 0 on success, 1 if any input failed, 2 for usage errors,
    130 when interrupted (Ctrl-C); no traceback reaches the user for these.
    ``exits_after``: the process ends right after (the ``posefast`` program), so that
    connections it would otherwise close, such as to a Ray cluster, may be left to
    the operating system."""
    global _sigints
    command = "posefast"
    _sigints = 0  # (a Ctrl-C before this command, in a process that runs several, is not its)
    if (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
        signal.signal(signal.SIGINT, _on_sigint)  # as Python's own, and counted
        sys.unraisablehook = _unraisable
    try:
        from ..job import forkserver

        if forkserver.wanted_by(sys.argv[1:] if argv is None else argv):
            # before this process imports NumPy and the rest (0.1-0.2 s), so that the
            # server's own imports, which the job's first process waits for, overlap
            # them; here, where a Ctrl-C held back while it starts is handled
            forkserver.start()
        if "numpy" not in sys.modules:
            # NumPy's OpenBLAS threads spin after its import: on 2 cores they took the
            # CPU the fork server was importing on (a 7-image job: 0.557 -> 0.517 s).
            # No command makes BLAS calls; what it starts gets the environment as it was.
            with forkserver.one_blas_thread():
                import numpy  # noqa: F401
        parser = build_parser()
        args = parser.parse_args(argv)
        args.exits_after = exits_after
        command = f"posefast {args.command}"
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # stdout's reader went away (`posefast ... | head`)
        from ..runtime_logs import to_devnull

        to_devnull(sys.stdout.fileno())
        print(f"{command}: stdout was closed by its reader", file=sys.stderr)
        return 1


def entry() -> None:
    """The ``posefast`` program: runs :func:`main`, then exits with its status, keeping
    the inference runtime's teardown lines off stderr (see ``posefast.runtime_logs``)."""
    try:
        status = main(exits_after=True)
        from ..runtime_logs import quiet_teardown

        quiet_teardown()
    except KeyboardInterrupt:  # a Ctrl-C before main's own handling, or after it
        print("posefast: interrupted", file=sys.stderr)
        status = 130
    # Ray's exit handlers would shut down or disconnect what the command left to the
    # process's end (see run's ray_state)
    _exit_without_teardown(status, exit_handlers="ray" not in sys.modules)


def _exit_without_teardown(status: int, exit_handlers: bool) -> None:
    """Ends the process at once, after flushing what it wrote and, with
    ``exit_handlers``, running the ``atexit`` handlers (multiprocessing's and the
    like); what is skipped is the interpreter's teardown of its modules. Every
    command has written and closed its outputs by then. That teardown took 0.04 s
    after a ``posefast run`` (6-7 % of a 7-image job, 0.7 % of a 203-image one on 2
    cores) and, with Ray Data imported (``--engine ray``: Ray's, pandas', pyarrow's
    modules), 0.5-0.6 s of a 168-image job's 9-10 s."""
    import atexit
    import logging
    import os

    if exit_handlers:
        atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):  # a reader gone, a stream closed: nothing to keep
            pass
    logging.shutdown()
    os._exit(status)


if __name__ == "__main__":
    entry()
