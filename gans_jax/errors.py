"""What the command line treats as the user's error, not the library's.

A bad value in a config, a flag or a file is reported by ``gans-jax`` as one line ``gans-jax:
<message>`` with exit status 2 (:data:`EXIT_USAGE`) and no traceback; ``--debug`` (or
``GANS_JAX_DEBUG=1``) shows the traceback all the same. A traceback without it means a bug.

These are :class:`UserError` (the library's own errors about what it was given: a workdir in use, no
checkpoint that restores, a run that diverged), ``ValueError`` (a bad value; every check of the
library raises one naming the value and what was expected) and ``OSError`` (a missing, unreadable or
corrupt file). A leaf module: it imports nothing.
"""

EXIT_USAGE = 2


class UserError(Exception):
    """An error in what the user asked for or gave, whose message says what to change."""


USER_ERRORS = (UserError, ValueError, OSError)


class UsageExit(SystemExit):
    """The exit after a user error was reported: status :data:`EXIT_USAGE`, ``str()`` the message."""

    def __init__(self, message: str):
        super().__init__(EXIT_USAGE)
        self.message = message

    def __str__(self) -> str:
        return self.message
