FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 SCOREMATE_DATA_DIR=/var/lib/scoremate
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir . \
    && useradd --system --home /var/lib/scoremate --create-home scoremate
USER scoremate
EXPOSE 8000
CMD ["scoremate", "serve", "--host", "0.0.0.0", "--port", "8000"]
