"""The migrations create exactly the schema `live.db.tables` declares, on SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from live.db.engine import create_engine
from live.db.tables import Base


async def test_migrating_an_empty_database_gives_the_declared_schema(database_url: str) -> None:
    # `database_url` arrives already migrated to head by the fixture, through Alembic.
    engine = create_engine(database_url)

    def differences(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    def tables(connection: Any) -> set[str]:
        return set(inspect(connection).get_table_names())

    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(differences) == []
            assert await connection.run_sync(tables) == set(Base.metadata.tables) | {"alembic_version"}
    finally:
        await engine.dispose()
