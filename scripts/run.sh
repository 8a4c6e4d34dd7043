#!/usr/bin/env bash
# Quick start on a fresh machine with only Python: install, migrate an embedded SQLite database,
# load the demo data and serve the app with deadlines enforced in-process.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh requirements.txt
export DEBUG="${DEBUG:-1}"
py=.venv/bin/python
$py manage.py migrate --noinput
$py manage.py seed_demo
$py manage.py serve "${ADDRPORT:-127.0.0.1:8000}"
