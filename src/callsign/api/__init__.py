"""HTTP entrypoints: the REST API, operations endpoints, Twilio and Kamailio webhooks,
and the web admin (admin/)."""
