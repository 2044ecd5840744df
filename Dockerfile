# One image for the gateway, processors and simulators (the command selects the service).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY contracts ./contracts
COPY runtime ./runtime
COPY stack ./stack
COPY gateway ./gateway
COPY processors ./processors
COPY simulators ./simulators
COPY catalog ./catalog
COPY registry ./registry
# stack/: the compose init steps (roles, topics, principals) run from the image
COPY stack ./stack
RUN pip install --no-cache-dir . && useradd --system sensegate
USER sensegate
ENTRYPOINT ["python", "-m"]
CMD ["gateway", "--help"]
