# The `live` server image: `docker compose up` runs two of these behind nginx (docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Every dependency (aiortc, av, asyncpg, cryptography, argon2) ships manylinux wheels for 3.11,
# so the slim image needs no compiler.
RUN groupadd --system live \
    && useradd --system --gid live --home-dir /app --no-create-home --shell /usr/sbin/nologin live

WORKDIR /app
# README.m[d]: copied when present (pyproject names it), without failing while it is not.
COPY pyproject.toml README.m[d] ./
COPY live ./live
COPY web ./web
RUN pip install . \
    && mkdir -p /app/var \
    && chown live:live /app/var

# The app finds its pages and static files at <package>/../web, so it runs from this source tree
# (the installed copy in site-packages has no web/ beside it).
ENV PYTHONPATH=/app

USER live
EXPOSE 8080

# Liveness of this process; the load balancer in docker-compose.yml waits on it.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=3).status != 200)"]

CMD ["live", "serve", "--host", "0.0.0.0", "--port", "8080"]
