.PHONY: run test lint bench fuzz

run:
	./scripts/run

test:
	./scripts/test

lint:
	./scripts/setup && .venv/bin/ruff check . && .venv/bin/ruff format --check .

bench:
	./scripts/setup && .venv/bin/python bench/search.py

# The long fuzz run (cases per operation and role; the suite runs 4).
fuzz:
	.venv/bin/python bench/fuzz.py 1000
