"""The provider-API proxy: ``/v1/outbound/proxy/{appId}/{path}`` calls the app's provider API
with a connection's credential (docs/proxy.md).

- ``route``: the ASGI layer, and the order of the steps of a call;
- ``caller``: who calls and whose connection;
- ``target``: the path, kept under the app's API base URL (pure);
- ``api_base``: an app's base URL and credential style;
- ``headers``: which headers cross, and the credential's injection (pure);
- ``exchange``: send, refresh once on 401, retry (``retry``: when and how long, pure);
- ``upstream``: the guarded client and the caller's body;
- ``signals``: the audit event, metrics and access line.
"""

from .route import PREFIX, ProxyPath
from .signals import ROUTE

__all__ = ["PREFIX", "ROUTE", "ProxyPath"]
