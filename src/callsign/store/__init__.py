"""The store: the only code that speaks SQL. Tables, Alembic migrations, the unit of work,
one module per aggregate (calls, numbers, orgs, keys, purchases, idempotency), and the one
place that translates driver errors into the domain's (``sql.driver_error``)."""
