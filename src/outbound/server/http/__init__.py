"""HTTP plumbing: the listener's limits, the outermost guard, the fetch hot path in front of the
framework, abuse limits, authentication, the one error shape, the wire structs requests decode
into and answers encode from, query parsing, observation (logs, metrics, access lines) and the
OpenAPI document.

Everything here is about *requests*; what a request does lives in ``tokens/``, ``connect/`` and
``services/``.
"""
