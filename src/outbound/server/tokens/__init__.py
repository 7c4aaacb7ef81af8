"""Tokens: fetch (the request that matters), refresh on fetch and ahead of expiry, revocation,
delegated fetch and token exchange, the provider config an app resolves to, and the grants
that obtain tokens without a user (``grants``: client credentials, GitHub App installations)."""
