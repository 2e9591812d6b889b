"""Errors meant for people: each says what is wrong and what to do about it."""


class XraySSLError(Exception):
    """A problem with the user's input or configuration.

    The CLI prints the message alone (no traceback) and exits with status 2.
    """


class Stopped(Exception):
    """The user stopped the command (Ctrl-C or SIGTERM); the message says how to continue.

    The CLI prints the message and exits with status 130, as a shell does for Ctrl-C.
    """
