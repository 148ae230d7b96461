"""Package discovery: every layer package under duck_cli/, and the JSON Schemas as package data.

The schemas live at the top level (schemas/) for editors and docs, and ship as duck_cli.schemas;
pyproject.toml cannot both discover packages and add a mapped one, so this file does it.
"""

from setuptools import find_packages, setup

setup(packages=find_packages(include=["duck_cli", "duck_cli.*"]) + ["duck_cli.schemas"],
      package_dir={"duck_cli.schemas": "schemas"})
