"""Packaging beyond what pyproject.toml can say: `web/` (templates and static files) ships inside the
package as `live.web`, so a wheel or a plain `pip install .` serves pages without the checkout."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["live", "live.*"]), "live.web"],
    package_dir={"live.web": "web"},  # its files are listed under package-data in pyproject.toml
)
