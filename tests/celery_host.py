"""``[core] hostname_callable`` of the test stack's Celery workers: the worker's name (TOT_WORKER_NAME),
so task instances show which of two workers on one machine ran them."""

import os


def hostname() -> str:
    return os.environ["TOT_WORKER_NAME"]
