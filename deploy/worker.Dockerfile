# A logbert image with the queue and PostgreSQL extras, for deploy/compose.yaml (build context: the
# repository root). The repository's own Dockerfile builds the single-process service without them.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1

WORKDIR /app
# the CPU build of torch first: an unpinned torch would pull a multi-GB CUDA build
RUN pip install --index-url https://download.pytorch.org/whl/cpu "torch>=2.2,<3"
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
RUN pip install '.[queue,postgres]' && useradd --create-home --uid 10001 logbert

USER logbert
# exec form: the worker gets SIGTERM directly, commits its partitions and hands them over
ENTRYPOINT ["logbert"]
CMD ["--help"]
