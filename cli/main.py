"""Entry point of the ``srsci`` command: argument parsing and error printing only."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from srgan_sci import __version__
from srgan_sci.cli import demo, evaluate, info, models, simulate, train, upscale
from srgan_sci.errors import SrsciError

EXIT_USAGE = 2
COMMANDS = (demo, info, simulate, train, upscale, evaluate, models)


class OneLineParser(argparse.ArgumentParser):
    """Argument parser whose errors are a single ``srsci: error: ...`` line."""

    def error(self, message: str) -> None:  # noqa: D102 - argparse API
        self.exit(EXIT_USAGE, f"srsci: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``srsci`` parser with one sub-parser per command module in :data:`COMMANDS`."""
    parser = OneLineParser(
        prog="srsci",
        description="Scientific super-resolution of microscopy and astronomy images.",
    )
    parser.add_argument("--version", action="version", version=f"srsci {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show the full traceback when something fails"
    )
    subparsers = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=OneLineParser
    )
    subparsers.required = True
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``srsci`` with ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("srsci: interrupted", file=sys.stderr)
        return 130
    except (SrsciError, OSError, ValueError) as error:
        if args.debug:
            raise
        message = " ".join(str(error).split()) or type(error).__name__
        print(f"srsci: error: {message}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
