FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 FULFIL_ENV=production
WORKDIR /app
# Dependencies first (cached while only the code changes); the project itself installs no packages.
COPY pyproject.toml ./
RUN pip install --upgrade pip && pip install .
COPY . .
RUN useradd --create-home --uid 1000 fulfil && mkdir -p /app/media /app/staticfiles && chown -R fulfil /app
USER fulfil
EXPOSE 8000
CMD ["gunicorn", "fulfil.wsgi", "-b", "0.0.0.0:8000", "-k", "gthread", "-w", "2", "--threads", "4", "--access-logfile", "-"]
