#!/usr/bin/env bash
# Make this machine ready for the code verifier's Docker tests: idempotent, safe to run twice.
#
# 1. install the Docker engine (docker.io) and debootstrap from Debian when missing;
# 2. start dockerd when no engine answers, without a bridge or iptables rules (sandbox
#    containers run with --network none; nothing here needs a network), and wait for it;
# 3. build the offline sandbox image from a debootstrap root filesystem when the tag is
#    missing (no registry is needed; `verify sandbox build` pulls python:3.x-slim instead).
#
# Environment: SANDBOX_IMAGE (tag, default sft-verify/sandbox:latest), SANDBOX_SUITE (Debian
# suite, default bookworm), SANDBOX_MIRROR (Debian mirror), DOCKERD_LOG (dockerd's log file),
# PYTHON (an interpreter with sft-verify installed; default: ./.venv/bin/python, else python3).
set -euo pipefail

IMAGE="${SANDBOX_IMAGE:-sft-verify/sandbox:latest}"
SUITE="${SANDBOX_SUITE:-bookworm}"
MIRROR="${SANDBOX_MIRROR:-http://deb.debian.org/debian}"
DOCKERD_LOG="${DOCKERD_LOG:-/var/log/sft-verify-dockerd.log}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

say() { printf '[setup_docker] %s\n' "$*"; }

need_root() {
    if [ "$(id -u)" != 0 ]; then
        say "must run as root to $1"; exit 2
    fi
}

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ "${#missing[@]}" -gt 0 ]; then
    need_root "install ${missing[*]}"
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

engine_up() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

if ! engine_up; then
    need_root "start dockerd"
    say "starting dockerd (no bridge, no iptables); log in $DOCKERD_LOG"
    nohup dockerd --bridge=none --iptables=false --ip6tables=false >>"$DOCKERD_LOG" 2>&1 &
    for _ in $(seq 1 60); do
        engine_up && break
        sleep 1
    done
    if ! engine_up; then
        say "dockerd did not answer within 60 s; last lines of $DOCKERD_LOG:"
        tail -n 20 "$DOCKERD_LOG" >&2 || true
        exit 2
    fi
fi
say "engine $(docker version --format '{{.Server.Version}}') is up"

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    say "image $IMAGE already present"
    exit 0
fi

need_root "debootstrap a root filesystem"
# The image is built by sft-verify itself (`python -m sandbox.cli build --debootstrap`), so this
# step needs the package installed: PYTHON, else the checkout's .venv, else python3 on PATH.
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$HERE/.venv/bin/python" ]; then PYTHON="$HERE/.venv/bin/python"; else PYTHON=python3; fi
fi
say "building $IMAGE offline from a debootstrap $SUITE root filesystem (about a minute)"
cd "$HERE"
"$PYTHON" -m sandbox.cli build --debootstrap --suite "$SUITE" --mirror "$MIRROR" --tag "$IMAGE"
