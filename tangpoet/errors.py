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
