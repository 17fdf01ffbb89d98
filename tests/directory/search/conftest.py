from datetime import date

import pytest

from directory import search
from directory.demo import seed_demo_directory


@pytest.fixture
def demo(db):
    """The demo directory (Open Eligibility categories, Onondaga County), indexed."""
    seed_demo_directory(today=date(2026, 3, 16))
    db.session.commit()
    search.reindex()
