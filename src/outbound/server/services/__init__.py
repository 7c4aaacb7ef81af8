"""Services: the one place that changes state (apps, tokens, connections, webhooks, keys,
audit); the API routes, the console and the CLI call them."""
