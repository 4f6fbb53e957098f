"""The web admin: server-rendered pages over the same use cases as the REST API."""
