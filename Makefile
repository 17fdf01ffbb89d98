.PHONY: run test lint bench lock fuzz

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

# Pin every dependency (and its hashes) after changing pyproject.toml; see README.
lock:
	python3 -m piptools compile --generate-hashes --extra dev --strip-extras --allow-unsafe \
		--no-emit-index-url --no-emit-find-links -o requirements.lock pyproject.toml
