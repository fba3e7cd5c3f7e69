# lineage: the CLI and `lineage serve`. Only the package's sources go in (see .dockerignore:
# no .venv, no lineage home, no keys or tokens); the home is a volume at run time.
FROM python:3.12-slim
# Graphviz's dot draws the data map as SVG/PNG (GET /v1/map).
RUN apt-get update && apt-get install -y --no-install-recommends graphviz \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY lineage lineage
COPY connectors connectors
COPY schemas schemas
COPY queries queries
RUN pip install --no-cache-dir . && useradd --create-home lineage \
    && mkdir -p /home/lineage/home && chown lineage /home/lineage/home
USER lineage
ENV LINEAGE_HOME=/home/lineage/home
EXPOSE 8787
ENTRYPOINT ["lineage"]
CMD ["serve", "--host", "0.0.0.0"]
