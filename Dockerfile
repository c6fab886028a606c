# The bot image: both adapters; the command picks one (discord, slack, all, console, doctor, policy …).
# Two stages: dependencies are installed into a virtual environment from pyproject.toml alone (a layer that
# is rebuilt only when they change), then the project; the runtime stage copies only that environment.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/relay
WORKDIR /src
COPY pyproject.toml ./
RUN python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" \
      > requirements.txt \
 && /opt/relay/bin/pip install -r requirements.txt
COPY README.md ./
COPY core ./core
COPY bots ./bots
RUN /opt/relay/bin/pip install --no-deps . && /opt/relay/bin/dolphin-relay --help > /dev/null

FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/relay/bin:$PATH LOG_FORMAT=json METRICS_PORT=9100
RUN useradd --create-home --uid 10001 --user-group relay
COPY --from=build /opt/relay /opt/relay
USER relay
WORKDIR /home/relay
EXPOSE 3000 9100
# The slim image has no curl: the probe is Python's own urllib against /healthz on METRICS_PORT. With
# METRICS_PORT=0 there is no server to ask, so the probe passes (the healthcheck is off in effect).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; port = os.environ.get('METRICS_PORT') or '9100'; port == '0' or urllib.request.urlopen('http://127.0.0.1:%s/healthz' % port, timeout=4)"]
ENTRYPOINT ["dolphin-relay"]
CMD ["all"]
