"""The outbound server: the management API over the vault's store.

It needs the ``server`` extra: ``pip install 'outbound-vault[server]'``.
"""

from .app import create_app
from .config import Settings

__all__ = ["Settings", "create_app"]
