"""``posefast config``: the effective configuration, and where each value came from."""
from __future__ import annotations

import argparse
import json
import os

from .options import CONFIG_HELP, UsageError, add_config_options, fail, resolve_from_args

EXAMPLES = """\
examples:
  posefast config                          # every setting, its value and its source
  POSEFAST_MODE=single posefast config --score-threshold 0.3
  posefast config --json                   # the same for scripts
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "config", help="show the effective configuration and where each value comes from",
        description="Print the configuration predict and run would use with the same "
                    "options here, each value with its source: an option, an environment "
                    "variable, the TOML file, or the default.",
        epilog=EXAMPLES + "\n" + CONFIG_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_config_options(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from ..config import config_file_path

    try:
        config, origins = resolve_from_args(args)
        path = config_file_path(args.config, os.environ)
    except (UsageError, OSError) as exc:
        return fail(str(exc))
    values = asdict(config)
    values.update(values.pop("decoder"))
    options = values.pop("backend_options")
    rows = [(key, value, origins.get(key, "default")) for key, value in values.items()]
    rows += [(f"backend_options.{k}", v, origins.get(f"backend_options.{k}", "?"))
             for k, v in options.items()]
    own, problem = _models_own(config)
    if args.json:
        settings = {k: {"value": v, "from": w} for k, v, w in rows}
        for key, value in own.items():  # what None stands for here
            settings[key]["model_value"] = value
        print(json.dumps({"config_file": str(path) if path else None, "settings": settings},
                         indent=2))
        return 0
    print(f"# configuration file: {path if path else 'none'}")
    width = max(len(k) for k, _, _ in rows)
    shown = []
    for k, v, w in rows:
        if v is None and k in own:
            v, w = own[k], f"the model's own ({w})"
        shown.append((k, "(the model's)" if v is None else
                      "x".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v), w))
    vwidth = max(len(v) for _, v, _ in shown)
    for key, value, where in shown:
        print(f"{key:<{width}}  {value:<{vwidth}}  {where}")
    if problem:
        print(f"# the model's own input size and output stride cannot be read here: {problem}")
    return 0


def _models_own(config) -> tuple[dict, str | None]:
    """The model's own ``input_size`` ([height, width], pixels) and ``output_stride``,
    for the settings that leave them to it (None); and why they cannot be read, if so.
    The model is not downloaded: this command only looks."""
    from ..models.own_settings import OWN_SETTINGS, model_own_settings

    return model_own_settings(config, [k for k in OWN_SETTINGS if getattr(config, k) is None])
