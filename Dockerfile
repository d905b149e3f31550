# One image for every ScoreMate process of compose.yaml: `serve` (the default), `worker` and `migrate`.
FROM python:3.11.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SCOREMATE_DATA_DIR=/var/lib/scoremate
WORKDIR /app

# Dependencies first, exactly as locked (versions and hashes): this layer is rebuilt only when the lock changes,
# not on every edit of the source.
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock

COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir --no-deps . \
    && useradd --system --home /var/lib/scoremate --create-home scoremate
USER scoremate
EXPOSE 8000
# Liveness of `serve`; compose gives the worker its own check and none to the one-shot migrate.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=6 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]
CMD ["scoremate", "serve", "--host", "0.0.0.0", "--port", "8000"]
