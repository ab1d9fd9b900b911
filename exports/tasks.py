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

    job = export_job_run(job_id=job_id)
    return job.status if job is not None else "deleted"


@shared_task
def expire_export_jobs() -> int:
    """Remove the files of exports older than EXPORT_RETENTION_DAYS (Celery beat, daily)."""
    from exports.services.jobs import export_jobs_expire

    return export_jobs_expire()
