.PHONY: run test lint migrate worker beat

run:            ## quick start: SQLite, demo data, app + in-process sweeper on :8000
	scripts/run.sh

test:           ## the whole suite (ruff, mypy, migrations, pytest) on PostgreSQL + Redis
	scripts/test.sh

lint:
	.venv/bin/python -m ruff check . && .venv/bin/python -m ruff format --check . && .venv/bin/python -m mypy .

worker:         ## a Celery worker (needs REDIS_URL)
	.venv/bin/celery -A config worker -l info

beat:           ## the one Celery beat (needs REDIS_URL)
	.venv/bin/celery -A config beat -l info
