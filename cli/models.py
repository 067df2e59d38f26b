"""``srsci models``: list bundled and user models, or show one model's card."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``srsci models``."""
    parser = subparsers.add_parser(
        "models",
        help="list bundled and user models, or print one model's card",
        description="List the models --model accepts by name: those shipped with srgan_sci "
        "and those in $SRSCI_MODEL_DIR (default ~/.local/share/srgan_sci/models). "
        "With a NAME, print its model card.",
    )
    parser.add_argument("name", nargs="?", help="model name or bundle folder: print its card")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the model table or one card."""
    from srgan_sci.zoo import describe_model, list_models, resolve_model

    if args.name:
        print(describe_model(resolve_model(args.name)))
        return 0
    entries = list_models()
    if not entries:
        print("no models installed; train one with `srsci train`")
        return 0
    rows = [("name", "scale", "degradation", "source", "path")]
    for entry in entries:
        summary = describe_model(entry.path, short=True)
        rows.append((entry.name, summary[0], summary[1], entry.source, str(entry.path)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    return 0
