"""``posefast backends``: every registered backend, whether it is usable here and why not."""
from __future__ import annotations

import argparse
import json

EXAMPLES = """\
examples:
  posefast backends            # a table: name, usable here, where it comes from, why not
  posefast backends --json     # the same as JSON, for scripts

Backends are found in the entry-point group `posefast.backends`; a package of your own
registers one the same way (see README: Backends).
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "backends", help="list the inference backends and whether they can run here",
        description="List every registered inference backend, whether it is usable on this "
                    "machine, and if not, why and what to do.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from ..backend_registry import list_backends

    infos = list_backends()
    rows = [{"name": i.name, "usable": i.availability.usable, "reason": i.availability.reason,
             "entry_point": i.target, "distribution": i.distribution} for i in infos]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no backends are registered (is posefast installed?)")
        return 0
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        state = "usable" if r["usable"] else "not usable"
        origin = r["distribution"] or "?"
        line = f"{r['name']:<{width}}  {state:<10}  {origin}: {r['entry_point']}"
        if r["reason"]:
            line += f"\n{'':<{width}}  {r['reason']}"
        print(line)
    return 0
