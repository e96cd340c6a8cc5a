"""One exception type for every error a user can fix; the CLI prints it on one line and exits 2."""


class HarnessError(Exception):
    """A problem with the user's input (recipe, data, command line), reported without a traceback."""

    exit_code = 2
