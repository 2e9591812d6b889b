"""Errors meant for people: each says what is wrong and what to do about it."""


class XraySSLError(Exception):
    """A problem with the user's input or configuration.

    The CLI prints the message alone (no traceback) and exits with status 2.
    """
