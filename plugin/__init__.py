"""skillrelay core: manifest, rules, store, pipeline and the CLI."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("skillrelay")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
