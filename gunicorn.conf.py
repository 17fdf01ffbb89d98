"""gunicorn settings for `./scripts/run` (and any production start: `gunicorn` reads this file
from the working directory). `flask run` stays for development only.

One worker per core (the search is CPU-bound: more workers than cores serve no more), the app
built once in the master before the workers fork (`preload_app`: the start-up index check runs
once, and the workers share the master's memory), `gc.freeze()` after start-up so the
collector never touches, and so never copies, the shared objects; access log on stderr.
Settings by environment: BIND (default 127.0.0.1:$PORT, PORT default 5000), WEB_CONCURRENCY
(workers, default the cores this process may use), GUNICORN_TIMEOUT (seconds, default 60).
"""

import gc
import os

_cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
workers = int(os.environ.get("WEB_CONCURRENCY") or _cores or 1)
os.environ["WEB_CONCURRENCY"] = str(workers)  # the app sizes its rate-limit storage by it
bind = os.environ.get("BIND") or f"127.0.0.1:{os.environ.get('PORT', '5000')}"
# The master starts serving at once: the workers build or catch up the search index in the
# background, and /healthz/ready answers 503 until they have (a balancer waits for it).
wsgi_app = "app:create_app({'SEARCH_CHECK_AT_STARTUP': False})"
preload_app = True
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
control_socket_disable = True  # no gunicornc; several servers on one machine would share it


def _app(server):
    return server.app.callable  # the app the master preloaded


def when_ready(server):
    """In the master, start-up done: close its database connections (a worker must not share
    them) and freeze what start-up made, before the workers fork."""
    from extensions import db

    with _app(server).app_context():
        db.engine.dispose()
    gc.freeze()


def post_fork(server, worker):
    """In each new worker: forget any connection inherited from the master, without closing
    the master's."""
    from extensions import db

    with _app(server).app_context():
        db.engine.dispose(close=False)
