# Image for the server and the judge worker of a docker compose deployment.
FROM python:3.11-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends docker.io debootstrap \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md litestar.yml ./
COPY server ./server
COPY judge ./judge
COPY realtime ./realtime
COPY db ./db
COPY demo ./demo
RUN pip install --no-cache-dir .

ENV CODEARENA_SETTINGS_FILE=/app/litestar.yml \
    CODEARENA_DATA_DIR=/var/lib/codearena \
    CODEARENA_SERVER_HOST=0.0.0.0
EXPOSE 8000
CMD ["codearena", "serve"]
