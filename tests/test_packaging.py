"""The package metadata builds without deprecation warnings."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def test_license_is_an_spdx_expression_that_the_build_backend_understands() -> None:
    config = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    # A {text = ...} table is deprecated: setuptools warns on every build and install.
    assert config["project"]["license"] == "Apache-2.0"
    requires = [Requirement(r) for r in config["build-system"]["requires"]]
    setuptools = next(r for r in requires if r.name == "setuptools")
    # License expressions (PEP 639) are read from setuptools 77 on.
    assert not setuptools.specifier.contains("76.1.0")
    assert setuptools.specifier.contains("77.0.3")
