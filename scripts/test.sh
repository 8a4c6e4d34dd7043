#!/usr/bin/env bash
# The whole suite, as CI runs it: lint, types, migrations check, then pytest on PostgreSQL + Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/disputes}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
export DJANGO_SETTINGS_MODULE=config.settings.test

scripts/bootstrap.sh requirements-dev.txt
scripts/services.sh
scripts/browser.sh
py=.venv/bin/python

echo "== ruff"; $py -m ruff check .; $py -m ruff format --check .
echo "== mypy"; $py -m mypy .
echo "== makemigrations --check"; $py manage.py makemigrations --check --dry-run
echo "== pytest"; $py -m pytest -n "${PYTEST_WORKERS:-2}" "$@"
