"""The production store: PostgreSQL or SQLite through SQLAlchemy Core, with rollups maintained on insert."""
