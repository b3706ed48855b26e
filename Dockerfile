# autobot-guard image: the CLI and the admission webhook (`autobot-guard serve`).
#
#   docker build -t ghcr.io/mrveiss/autobot-guard:0.1.0 .
#
# Base image: pin it by digest for reproducible builds. The digest could NOT be verified
# where this file was written (no registry access there); before the first release run
#   docker buildx imagetools inspect python:3.11-slim-bookworm
# and replace the tag below with  python:3.11-slim-bookworm@sha256:<that digest>.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# -- build the wheel -------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY autobot_guard ./autobot_guard
COPY policies ./policies
COPY manifests ./manifests
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

# -- runtime ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=build /wheels /wheels
# Exact dependency versions, those the test suite ran against (see the file's header).
COPY docker/constraints.txt /wheels/constraints.txt
RUN set -eux; \
    pip install --constraint /wheels/constraints.txt "$(ls /wheels/autobot_guard-*.whl)[webhook]"; \
    rm -rf /wheels; \
    # Byte-compile now: the root filesystem is read-only at run time.
    python -m compileall -q "$(python -c 'import autobot_guard, os; print(os.path.dirname(autobot_guard.__file__))')"; \
    groupadd --system --gid 10001 autobot-guard; \
    useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin autobot-guard
USER 10001:10001
EXPOSE 8443
ENTRYPOINT ["autobot-guard"]
CMD ["serve", "--tls-cert=/etc/autobot-guard/tls/tls.crt", "--tls-key=/etc/autobot-guard/tls/tls.key"]
