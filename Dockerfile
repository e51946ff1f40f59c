# logbert streaming service: `docker build -t logbert .` then
#   docker run -p 8000:8000 -v /path/to/artifact:/artifact:ro -v logbert-data:/data logbert
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    LOGBERT_ALERTS_DB=/data/alerts.sqlite3

WORKDIR /app
# the CPU build of torch first: an unpinned torch would pull a multi-GB CUDA build
RUN pip install --index-url https://download.pytorch.org/whl/cpu "torch>=2.2,<3"
# LICENSE: pyproject's license-files (the wheel carries the MIT notice; setuptools will refuse a build without it)
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
RUN pip install . && useradd --create-home --uid 10001 logbert && mkdir -p /data && chown logbert /data

USER logbert
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/ready')"
# exec form: uvicorn gets SIGTERM directly; the lifespan scores every queued window and stores its alerts, and
# keeps the open sessions in the ingest journal for the next start (docs/reliability.md)
ENTRYPOINT ["logbert", "serve"]
CMD ["/artifact", "--host", "0.0.0.0", "--port", "8000"]
