"""The one base of every error a user can fix: a file, a parameter or data that is not what was expected.

Stages and commands catch :class:`InputError` and print its message in one line (exit code 2); anything else
is a bug and ends in a traceback. Each part of the library raises its own subclass (``ConfigError``,
``CheckpointError``, ``DownloadError``, ``BadImage``, ``TrainingError``, ``PaperDataError``), whose message
names the file or the parameter.
"""


class InputError(ValueError):
    """Bad input; the message names the file or parameter and what was expected."""
