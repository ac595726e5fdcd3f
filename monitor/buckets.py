"""Time buckets in SQL: floor a timestamp column to a whole number of seconds since the epoch
(UTC), so that charts group rollup rows by their bucket in the database, not in Python."""

from datetime import timedelta

from django.db.models import DateTimeField, Func


class FloorTo(Func):
    """FloorTo("minute", timedelta(minutes=15)): the start of the column's 15-minute bucket."""

    output_field = DateTimeField()

    def __init__(self, expression, step: timedelta, **extra):
        # An int we computed, so it is safe to write into the SQL as a literal.
        self.seconds = int(step.total_seconds())
        if self.seconds <= 0:
            raise ValueError("step must be at least one second")
        super().__init__(expression, **extra)

    def _column(self, compiler):
        return compiler.compile(self.get_source_expressions()[0])

    def as_postgresql(self, compiler, connection, **extra):
        column, params = self._column(compiler)
        return (
            f"date_bin(make_interval(secs => {self.seconds}), {column}, "
            "TIMESTAMPTZ '1970-01-01 00:00:00+00')",
            params,
        )

    def as_sqlite(self, compiler, connection, **extra):
        column, params = self._column(compiler)
        return (
            f"strftime('%%Y-%%m-%%d %%H:%%M:%%S', (CAST(strftime('%%s', {column}) AS INTEGER)"
            f" / {self.seconds}) * {self.seconds}, 'unixepoch')",
            params,
        )
