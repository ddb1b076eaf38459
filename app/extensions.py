"""Flask extensions, created unbound and attached in create_app()."""

from typing import TYPE_CHECKING, ClassVar, cast

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, Table
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session

# Stable constraint names so Alembic can diff and drop them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base for every model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


if TYPE_CHECKING:

    class ScopedSession(scoped_session[Session], Session):  # type: ignore[misc]  # overloads spelled apart
        """`db.session` as used: a scoped_session forwarding every Session method to the current session."""

    class TypedSQLAlchemy(SQLAlchemy):
        session: ScopedSession  # type: ignore[assignment]  # the same object, seen with Session's methods


db = cast("TypedSQLAlchemy", SQLAlchemy(model_class=Base))

# Models subclass `Model`: at run time it is `db.Model` (Base plus Flask-SQLAlchemy's table names and binds),
# which a type checker cannot see as a class; to the type checker it is the declarative Base it extends.
if TYPE_CHECKING:

    class Model(Base):
        __table__: ClassVar[Table]  # every model maps one table (DeclarativeBase allows any FromClause)

else:
    Model = db.Model
migrate = Migrate(compare_type=True, render_as_batch=True)
