"""`posefast convert` (placeholder until its issue lands)."""


def add_parser(sub):
    p = sub.add_parser("convert", help="(not yet implemented)")
    p.set_defaults(func=lambda args: 2)
