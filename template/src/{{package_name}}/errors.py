"""Errors the command line reports as a one-line message instead of a traceback."""


class ProjectError(Exception):
    """Base class: something the user can fix, with a message that says how."""


class ConfigError(ProjectError):
    """A config file or override that cannot be used."""


class DataError(ProjectError):
    """A dataset that is missing or does not have the expected columns or labels."""


class ModelNotTrainedError(ProjectError):
    """Predict, evaluate or serve found no trained model."""


class TrainingError(ProjectError):
    """Training cannot start or run with these settings on this machine."""
