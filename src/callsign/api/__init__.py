"""HTTP: the REST API, operations endpoints, and (later) webhooks and the admin."""
