"""The only backend-specific code in tangpoet.

Everything here is reached through a backend check, has a generic (``keras.ops`` / Keras) counterpart, and is
tested against it. Modules are named after the backend they serve.
"""
