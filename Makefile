.PHONY: run test lint migrate worker beat bench bench-small

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

bench:          ## issue #9 benches 1-6 on a fresh disputes_bench database (12-30 min; not part of CI)
	.venv/bin/python -m bench.run

bench-small:    ## the same at 2 % size: a smoke run of the bench machinery (a minute or two)
	.venv/bin/python -m bench.run --small
