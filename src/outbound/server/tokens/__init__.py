"""Tokens: fetch (the request that matters), refresh on fetch and ahead of expiry, revocation,
delegated fetch and token exchange, and the provider config an app resolves to."""
