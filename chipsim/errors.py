"""Errors that a user can cause and fix.

Every exception here names the file, field or graph node at fault. The command line prints it in
one line and exits with status 2, without a traceback; anything else is a bug in chipsim.
"""


class ChipsimError(Exception):
    """A mistake in what the user handed chipsim (a file, an option, a value)."""


class DescriptionError(ChipsimError):
    """A chip description that does not load or does not validate."""


class GraphError(ChipsimError):
    """A graph file that cannot be read, or an operation chipsim does not support."""


class MappingError(ChipsimError):
    """A mapping that does not fit the chip or does not match the graph."""


class DataError(ChipsimError):
    """Input data that cannot be used (unknown data set, wrong shape, NaN)."""


class NocError(ChipsimError):
    """A network experiment that cannot run: a pattern the topology lacks, a rate out of range,
    or a routing rule that deadlocked the network."""


class ChipsimWarning(UserWarning):
    """Something the user should know that does not stop the run (the CLI prints one line)."""


class SpecError(ChipsimError):
    """A sweep spec that does not load or does not validate (`chipsim sweep`)."""
