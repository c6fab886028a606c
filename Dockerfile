# The bot image: both adapters; the command picks one (discord, slack, all, console, doctor, policy …).
FROM python:3.11.11-slim-bookworm AS build
WORKDIR /src
RUN pip install --no-cache-dir --upgrade pip build
COPY pyproject.toml README.md ./
COPY core ./core
COPY bots ./bots
RUN python -m build --wheel --outdir /wheels && pip wheel --no-cache-dir --wheel-dir /wheels /wheels/*.whl

FROM python:3.11.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 LOG_FORMAT=json METRICS_PORT=9100
RUN useradd --create-home --uid 10001 relay
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels dolphin-relay && rm -rf /wheels
USER relay
WORKDIR /home/relay
EXPOSE 3000 9100
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"METRICS_PORT\", \"9100\")}/healthz', timeout=4)"
ENTRYPOINT ["dolphin-relay"]
CMD ["all"]
