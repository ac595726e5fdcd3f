# ConflictWatch image: web (gunicorn), Celery worker and beat all run from it, as an
# unprivileged user that cannot change the code it runs. .dockerignore keeps secrets (.env),
# local databases, virtualenvs and the git history out of the build context.
FROM node:20-bookworm-slim AS assets
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml ./
COPY monitor ./monitor
COPY ingest ./ingest
RUN pip install --no-cache-dir .
COPY . .
COPY --from=assets /app/node_modules ./node_modules
RUN DEBUG=false SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput -v 0
RUN useradd --system --no-create-home --shell /usr/sbin/nologin conflictwatch
USER conflictwatch
EXPOSE 8000
CMD ["gunicorn", "monitor.wsgi", "--bind", "0.0.0.0:8000", "--workers", "4", "--access-logfile", "-"]
