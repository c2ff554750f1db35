# The portal image: web (gunicorn), Celery worker and beat all run from it.
FROM python:3.11-slim

# DEBUG=false: the image is always a deployment, so without keys it fails fast instead of
# falling back to the embedded defaults.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DEBUG=false

WORKDIR /app
RUN useradd --system --create-home --uid 10001 --user-group portal

# Dependencies first, so code changes do not reinstall them.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .

# Settings refuse to load without keys; these dummies exist for this one step and
# never reach the running containers. memory:// keeps the broker out of var/.
RUN DEBUG=false \
    SECRET_KEY=docker-build-only-dummy-secret-key \
    PORTAL_ENCRYPTION_KEYS=ZG9ja2VyLWJ1aWxkLW9ubHktZHVtbXkta2V5LTAwMDA= \
    CELERY_BROKER_URL=memory:// \
    python manage.py collectstatic --noinput \
 && mkdir -p var \
 && chown -R portal:portal var staticfiles

USER portal
EXPOSE 8000
CMD ["gunicorn", "portal.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
