"""Errors that users see: each names the file, line or key at fault."""


class MetaMathError(Exception):
    """Base class: the CLI prints these without a traceback."""


class ConfigError(MetaMathError):
    """A config file or override is invalid (unknown key, wrong type, missing value)."""


class DataError(MetaMathError):
    """A data file is missing or a row is malformed."""


class ModelNotAvailable(MetaMathError):
    """A named model cannot be found or converted."""
