"""`posefast backends` (placeholder until its issue lands)."""


def add_parser(sub):
    p = sub.add_parser("backends", help="(not yet implemented)")
    p.set_defaults(func=lambda args: 2)
