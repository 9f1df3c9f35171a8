# One image for every process of the gateway: web (the default command),
# worker, beat and the one-shot migrate job. docker-compose.yml picks the
# process with `command:`; the commands are the Procfile's.
#
# Nothing environment-specific is baked in: DJANGO_ENV, SECRET_KEY and the
# rest come from the container environment at run time (see docs/DEPLOYMENT_GUIDE.md).

# --------------------------------------------------------------------------- builder
# Compilers and headers live only here; the final image gets the finished virtualenv.
FROM python:3.11-slim AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# Debian's current build tools; only this stage uses them.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential libpq-dev \
    && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH"

COPY requirements/base.txt /tmp/requirements/base.txt
RUN pip wheel --wheel-dir /tmp/wheels -r /tmp/requirements/base.txt \
    && pip install --no-index --find-links /tmp/wheels -r /tmp/requirements/base.txt

# --------------------------------------------------------------------------- runtime
FROM python:3.11-slim AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH="/opt/venv/bin:$PATH"

# uid/gid 10001: numeric, so orchestrators can verify "non-root" without /etc/passwd.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid 10001 --home-dir /home/app --create-home --shell /usr/sbin/nologin app

COPY --from=builder /opt/venv /opt/venv

WORKDIR /app
# The code stays owned by root: the app user can read it but not change it.
COPY . /app

# Static files are collected at build time, in production mode so that
# WhiteNoise's manifest (hashed names, compressed copies) is produced. The
# values below exist only for this RUN step: they satisfy the production
# start-up checks, point at unresolvable hosts (collectstatic never connects)
# and are never present in the running container.
RUN DJANGO_ENV=production \
    SECRET_KEY=build-only-c8e1f4a7b2d95e03a6f1c4b8d7e2a9f05b3c6d1e8a4f7b2c \
    ALLOWED_HOSTS=build.invalid \
    WAHA_API_KEY=build-only-key-not-used-at-runtime \
    METRICS_TOKEN=build-only-metrics-token-9e2b7c4d1a6f3e80 \
    DATABASE_URL=postgres://build@build.invalid:5432/build \
    REDIS_URL=redis://build.invalid:6379/0 \
    python manage.py collectstatic --noinput -v 0 \
    && python -m compileall -q /app \
    && chmod 0755 bin/web bin/worker \
    && mkdir -p /app/var \
    && chown 10001:10001 /app/var

USER 10001:10001

EXPOSE 8000

# Liveness of the web process (no curl in the slim image: the probe is Python).
# It sends a Host header taken from ALLOWED_HOSTS, since Django refuses others.
# worker and beat override or disable this in docker-compose.yml.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "/app/docker/healthcheck.py"]

# gunicorn with gunicorn.conf.py; bin/web prepares PROMETHEUS_MULTIPROC_DIR first.
CMD ["bin/web"]
