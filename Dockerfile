# Slim runtime image: the service and its packaged data, run by uvicorn as a non-root user.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DATA_DIR=/data
WORKDIR /app
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock
COPY pyproject.toml README.md ./
COPY service ./service
COPY questionnaires ./questionnaires
COPY cql_equivalents ./cql_equivalents
RUN pip install --no-cache-dir --no-deps . && useradd --system --uid 10001 app \
    && mkdir -p /data && chown app /data
USER app
EXPOSE 8080
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz')"
CMD ["uvicorn", "service.app:app", "--host", "0.0.0.0", "--port", "8080"]
