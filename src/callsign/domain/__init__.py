"""The pure core: phone facts, models and the outbound and inbound rules. No I/O here."""
