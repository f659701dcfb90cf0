# syntax=docker/dockerfile:1

FROM python:3.13-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_NO_CACHE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_COMPILE_BYTECODE=1

WORKDIR /src
# uv at its hashed pin, then exactly what uv.lock holds for serving (no dev tools, no installers),
# compiled here: the image sets PYTHONDONTWRITEBYTECODE, so a worker would compile each start.
COPY installer-requirements.txt ./
RUN pip install --require-hashes --no-deps -r installer-requirements.txt
COPY . .
RUN uv sync --locked --no-default-groups --no-editable


FROM python:3.13-slim

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --shell /usr/sbin/nologin app \
    && install -d -o app -g app /var/lib/outdial

COPY --from=build /opt/venv /opt/venv

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOST=0.0.0.0 \
    PORT=8000 \
    LOG_FORMAT=json \
    DATA_DIR=/var/lib/outdial

USER app
WORKDIR /var/lib/outdial
EXPOSE 8000

# Liveness only: /readyz would mark the container unhealthy whenever MongoDB is away.
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/healthz', timeout=4)"]

CMD ["outdial-graphql", "serve"]
