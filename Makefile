.PHONY: run test lint bench

run:
	./scripts/run

test:
	./scripts/test

lint:
	./scripts/setup && .venv/bin/ruff check . && .venv/bin/ruff format --check .

bench:
	./scripts/setup && .venv/bin/python bench/search.py
