"""In-memory implementations of the services' ports, for unit tests of the use cases."""
