from celery import shared_task
from django.db import OperationalError

TRANSIENT = (OperationalError, ConnectionError)


@shared_task(
    acks_late=True,
    autoretry_for=TRANSIENT,
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=3,
)
def run_export_job(job_id: int) -> str:
    """Run one export job; a job that already succeeded is not run again."""
    from exports.services.jobs import export_job_run

    return export_job_run(job_id=job_id).status
