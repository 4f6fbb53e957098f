"""The use cases, by capability: plain values in, a unit of work, an explicit commit."""
