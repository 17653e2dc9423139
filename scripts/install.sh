#!/usr/bin/env bash
# Install everything the project needs into ./.venv (idempotent; safe to run again).
# System packages: the headers mysqlclient builds against, and chromium for the browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
dpkg -s default-libmysqlclient-dev >/dev/null 2>&1 || need_apt+=(default-libmysqlclient-dev)
dpkg -s pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
# Debian's chromium for the browser tests (Playwright drives it; browser downloads do not work here).
dpkg -s chromium >/dev/null 2>&1 || need_apt+=(chromium)
# A CJK font, so the browser tests' screenshots show Chinese service names.
dpkg -s fonts-wqy-microhei >/dev/null 2>&1 || need_apt+=(fonts-wqy-microhei)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install -q --upgrade pip >/dev/null
.venv/bin/pip install -q -e ".[dev]"
echo "installed into $(pwd)/.venv"
