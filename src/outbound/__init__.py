"""outbound: a self-hosted vault for outbound OAuth tokens.

The top-level package is the SDK; the server lives in ``outbound.server`` and needs the
``server`` extra.
"""

from ._version import __version__

__all__ = ["__version__"]
