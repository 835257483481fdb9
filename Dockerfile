# Production image: PostgreSQL via SAMVERKAN_DATABASE_URL, migrations applied on start.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    SAMVERKAN_ENVIRONMENT=production
WORKDIR /srv/samverkan

COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
RUN pip install --no-compile -e . \
    && useradd --system --uid 10001 --home-dir /srv/samverkan samverkan

# Production refuses SQLite and dev tokens and needs its signing key: configure with
# SAMVERKAN_DATABASE_URL, SAMVERKAN_PUBLIC_BASE_URL and SAMVERKAN_SIGNING_KEY_FILE.
ENV SAMVERKAN_ENVIRONMENT=production
USER samverkan
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz').status != 200)"
CMD ["samverkan", "serve", "--migrate", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
