"""Errors a user can cause. The CLI prints them as one line and exits with status 2."""


class TangpoetError(Exception):
    """Base class for every error that is the user's input, not a bug in tangpoet."""


class BackendError(TangpoetError):
    """The Keras backend asked for is unknown or not installed."""


class CorpusError(TangpoetError):
    """A corpus file is missing, unreadable, or empty after cleaning."""


class VocabularyError(TangpoetError):
    """A character is not in the model's vocabulary, or a vocabulary is malformed."""


class ModelFileError(TangpoetError):
    """A model file is missing, damaged, or not a tangpoet model."""


class UnknownNameError(TangpoetError):
    """A cell, decoder or form name that does not exist."""


class ConstraintError(TangpoetError):
    """A writing constraint (form, acrostic, begin, length) that cannot be met; raised before decoding starts."""


class DecoderOptionError(TangpoetError):
    """A decoder option that is out of range or does not apply to the chosen decoder."""


class OptionError(DecoderOptionError):
    """A decoder option refused, with the option names in its message kept apart: each front end spells them its own
    way (the library and the command line: ``top-k``, ``beam width``; the HTTP API: its fields ``top_k``,
    ``beam_width``). ``parts``: text, or ``(name, label)`` for an option — ``str()`` uses the labels."""

    def __init__(self, *parts: str | tuple[str, str]):
        self.parts = parts
        super().__init__(self.spelled())

    def spelled(self, spell=None) -> str:
        """The message with each option named ``spell(name)`` (default: its label)."""
        return "".join(
            part if isinstance(part, str) else (spell(part[0]) if spell is not None else part[1]) for part in self.parts
        )


class DistributionError(TangpoetError):
    """Data-parallel training asked for where the backend has no engine for it, or a cluster set-up that is wrong."""


class OutputError(TangpoetError):
    """The output of ``fit`` cannot be written: a folder that is read-only or full, a path that is a directory, or an
    output another run is writing."""


class ScriptError(TangpoetError):
    """A simplified/traditional conversion that cannot be done: an unknown script name, or OpenCC not installed."""


class StdoutError(TangpoetError):
    """Standard output is closed or cannot be written (a full disk, ``> /dev/full``): what was asked for is lost."""


class PoemInputError(TangpoetError):
    """``tangpoet check``: nothing to check, or a poem file that cannot be read."""


class ServeError(TangpoetError):
    """``tangpoet serve`` cannot start: the serve extra is not installed, or the address is taken."""
