import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _import_settings(**env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "DJANGO_DEBUG", "DATABASE_URL"}
    }
    clean.update(env)
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import feedback_site.settings as s; print(s.DEBUG, s.DATABASES['default']['ENGINE'], s.CELERY_TASK_ALWAYS_EAGER)",
        ],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_embedded_default_is_sqlite_eager_and_debug():
    result = _import_settings(CELERY_BROKER_URL="")

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "django.db.backends.sqlite3", "True"]


def test_production_refuses_to_start_without_secret_key():
    result = _import_settings(DATABASE_URL="postgres://postgres@127.0.0.1:5432/test")

    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_refuses_the_development_secret_key():
    result = _import_settings(
        DJANGO_DEBUG="false",
        SECRET_KEY="django-insecure-embedded-development-key-do-not-use-in-production",
    )

    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_database_and_broker_urls_switch_to_real_services():
    result = _import_settings(
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/test",
        SECRET_KEY="x" * 50,
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "django.db.backends.postgresql", "False"]


def test_gevent_workers_pool_database_connections_by_default():
    code = (
        "from gevent import monkey; monkey.patch_all()\n"
        "import feedback_site.settings as s\n"
        "d = s.DATABASES['default']\n"
        "print(d['OPTIONS']['pool']['max_size'], d['CONN_MAX_AGE'], d['ENGINE'],"
        " d['CONN_HEALTH_CHECKS'], s.DB_POOL_CHECK_AFTER)"
    )
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if k not in ("DB_POOL_SIZE", "CONN_HEALTH_CHECKS", "DB_POOL_CHECK_AFTER")
        },
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/test",
        "SECRET_KEY": "settings-test-secret-" + "x" * 40,
    }
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    # Pooled connections are checked by the project's backend, after an idle second.
    assert result.stdout.split() == ["8", "0", "feedback_site.postgresql", "False", "1.0"]


def test_without_gevent_connections_persist_per_thread_unless_a_pool_is_asked_for():
    env = {
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/test",
        "SECRET_KEY": "settings-test-secret-" + "x" * 40,
    }
    code = (
        "import feedback_site.settings as s\n"
        "d = s.DATABASES['default']\n"
        "print(d.get('OPTIONS', {}).get('pool', {}).get('max_size'), d['CONN_MAX_AGE'])"
    )
    base = {k: v for k, v in os.environ.items() if k != "DB_POOL_SIZE"}
    plain = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**base, **env}, capture_output=True, text=True
    )
    pooled = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**base, **env, "DB_POOL_SIZE": "4", "CONN_MAX_AGE": "60"},
        capture_output=True,
        text=True,
    )

    assert plain.stdout.split() == ["None", "60"], plain.stderr
    assert pooled.stdout.split() == ["4", "0"], pooled.stderr


def test_a_pool_size_that_is_not_a_number_is_refused_at_start():
    result = _import_settings(
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/test",
        SECRET_KEY="settings-test-secret-" + "x" * 40,
        DB_POOL_SIZE="eight",
    )

    assert result.returncode != 0
    assert "DB_POOL_SIZE must be a whole number" in result.stderr


def _settings_values(expression: str, **env: str) -> str:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "DJANGO_DEBUG", "DATABASE_URL", "STATIC_ROOT", "MEDIA_ROOT"}
    }
    clean.update(env)
    result = subprocess.run(
        [sys.executable, "-c", f"import feedback_site.settings as s; print({expression})"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_empty_static_and_media_roots_mean_the_defaults_not_the_working_directory():
    values = _settings_values("s.STATIC_ROOT, s.MEDIA_ROOT", STATIC_ROOT="", MEDIA_ROOT="")

    assert values == f"{ROOT / 'staticfiles'} {ROOT / 'media'}"


def test_production_redirects_to_https_and_sends_hsts():
    production = {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/test", "SECRET_KEY": "x" * 50}

    assert _settings_values("s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS", **production) == (
        "True 31536000"
    )
    assert _settings_values("s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS") == "False 0"


def test_a_negative_export_retention_is_refused():
    result = _import_settings(CELERY_BROKER_URL="", EXPORT_RETENTION_DAYS="-1")

    assert result.returncode != 0
    assert "EXPORT_RETENTION_DAYS" in result.stderr
