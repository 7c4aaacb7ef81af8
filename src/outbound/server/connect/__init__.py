"""Connecting a user to a provider: connect links and the consent flow, session connect from
the browser, session JWT verification, dynamic client registration, and the checks on an app's
URLs."""
