"""Storage: SQLAlchemy tables, Alembic migrations, and the queries the services run."""
