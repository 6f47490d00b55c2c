#!/usr/bin/env bash
# The system packages the whole test suite drives: Debian's Chromium + ChromeDriver (browser tests, through
# Playwright's executable_path) and nginx (the scaled profile's load balancer). Installs what is missing with apt-get
# where it can (root, or sudo without a password); otherwise stops with the one command that installs them.
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium chromium-driver)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
[ ${#missing[@]} -eq 0 ] && exit 0
install="apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${missing[*]}"
if [ "$(id -u)" = 0 ]; then
  bash -c "$install"
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo bash -c "$install"
else
  echo "error: the whole suite needs ${missing[*]}; install them with:" >&2
  echo "  sudo bash -c '$install'" >&2
  exit 1
fi
