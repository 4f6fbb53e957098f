"""The pure core: phone facts, models, the outbound and inbound rules, the organization
document's schema and checks, and the bounds on every input. No I/O here."""
