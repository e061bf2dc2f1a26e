"""A contributor can rebuild the Cython core in place: the `dev` extra holds every build
requirement, and the README says how."""
from __future__ import annotations

import re
import sys

from conftest import ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].lower()


def test_the_dev_extra_holds_every_build_requirement():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    build = meta["build-system"]["requires"]
    dev = meta["project"]["optional-dependencies"]["dev"]
    # the same requirements, versions included: a rebuild without isolation uses these
    assert sorted(build) == sorted(dev), (build, dev)
    assert "cython" in {_name(r) for r in dev}


def test_the_readme_says_how_to_rebuild():
    text = (ROOT / "README.md").read_text()
    assert '.[all,test,dev]' in text
    assert "pip install --no-build-isolation -e ." in text
