#!/bin/sh
# One-shot job of the `migrate` service in docker-compose.yml: web, worker and
# beat start only after it exits 0.
#
#   MIGRATE_EXECUTOR  standard (default) or multiprocessing, for many tenants
#                     (processes: TENANT_MULTIPROCESSING_MAX_PROCESSES, default 2)
#   SEED_DEMO         1 to provision the demo tenants (acme, globex) after migrating;
#                     never in production (the demo passwords are public)
set -eu

python manage.py migrate_schemas --noinput --executor="${MIGRATE_EXECUTOR:-standard}"

case "${SEED_DEMO:-0}" in
  1 | true | True | yes | on)
    python manage.py seed_demo
    ;;
esac
