"""gunicorn settings, read from the working directory (`gunicorn feedback_site.wsgi`).

Defaults suit the widget's many small, short requests: gevent workers (one process per
core, each serving many connections cooperatively, with no thread switching under the
GIL) and a pool of database connections per worker (DB_POOL_SIZE) that the requests
in flight share. GUNICORN_WORKER_CLASS=gthread with GUNICORN_THREADS=8 gives threaded
workers instead. Any command-line option overrides these.
"""

import gc
import multiprocessing
import os
from pathlib import Path

import environ

# The same .env as the settings read, so GUNICORN_* there take effect too (variables
# already in the environment win).
if (Path(__file__).resolve().parent / ".env").is_file():
    environ.Env.read_env(Path(__file__).resolve().parent / ".env")

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count()))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gevent")
threads = int(os.environ.get("GUNICORN_THREADS", 1))
# Open client connections per gevent worker.
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", 1000))
keepalive = 5
# A worker that stops answering its master for this long is restarted.
timeout = 60
graceful_timeout = 30


def post_worker_init(worker: object) -> None:
    """Keep Python's cyclic garbage collector out of the requests' way.

    What the worker loaded at start (Django, the URL map, the models) is moved out of
    the collector's sight, and the collection that walks everything runs less often:
    otherwise a full collection over a loaded Django process stalls every request in
    flight for tens of milliseconds, the long tail of the widget's latency.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 1_000)
