"""Background loops every server runs: webhook delivery, webhook and audit retention, audit
checkpoints."""
