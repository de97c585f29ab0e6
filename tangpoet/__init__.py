"""tangpoet: learn Tang poetry character by character and write new poems (Keras 3).

Importing the package does no work and does not import Keras: the backend is chosen first
(see :mod:`tangpoet.backend`) by whichever module needs Keras.
"""

__version__ = "0.1.0"
