"""Storage: the SQLAlchemy tables, the async engine and the migrations that create them."""
