# The production image: one image for web (gunicorn), worker and beat.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=marketplace.settings.base
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# collectstatic only reads code, but production settings refuse public secrets: it gets
# throwaway random ones, which die with this build step.
RUN export DEBUG=0 \
      SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(64))')" \
      STRIPE_SECRET_KEY="sk_test_$(python -c 'import secrets; print(secrets.token_hex(32))')" \
      STRIPE_WEBHOOK_SECRET="whsec_$(python -c 'import secrets; print(secrets.token_hex(32))')" \
    && python manage.py collectstatic --noinput
RUN useradd --create-home app && mkdir -p /app/var && chown -R app /app/var
USER app
EXPOSE 8000
CMD ["gunicorn", "marketplace.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3"]
