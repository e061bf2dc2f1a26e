"""`posefast run` (placeholder until its issue lands)."""


def add_parser(sub):
    p = sub.add_parser("run", help="(not yet implemented)")
    p.set_defaults(func=lambda args: 2)
