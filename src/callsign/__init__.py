"""callsign: which caller ID every outbound call presents, and where every call back rings."""

__version__ = "0.1.0"
