#!/usr/bin/env bash
# The job on a real docker engine: a private dockerd, the images built from docker/, a one-node swarm running the
# stack `bt-ps stack deploy` makes from configs/single-host.yml (tracker, server, 3 clients), two rounds through
# `bt-ps round`, then checks that accuracy rose, that clients passed pieces to each other and that TensorBoard
# files were written. Removes the stack, leaves the swarm, stops its dockerd and deletes its data, also on failure.
# Needs root. Ends with a phase-time table and a line "swarm-e2e: passed" or "swarm-e2e: failed (REASON)".
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then echo "swarm-e2e: run as root (it starts its own dockerd)" >&2; exit 1; fi
CONFIG=configs/single-host.yml
STACK=btps-e2e
JOB=mnist-single
TAG=local
WAIT_HEALTHY_S=${WAIT_HEALTHY_S:-300}
work=$(mktemp -d /tmp/btps-swarm.XXXXXX)
sock=$work/docker.sock
export DOCKER_HOST=unix://$sock
phases=()
phase_start=$(date +%s)
phase() { local now; now=$(date +%s); phases+=("$(printf '%-28s %5d s' "$1" $((now - phase_start)))"); phase_start=$now; }
say() { echo "swarm-e2e: $*"; }

# --- the engine -------------------------------------------------------------------------------------------------
export DEBIAN_FRONTEND=noninteractive
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's CLI matches its engine and builds with BuildKit without the buildx plugin; a newer `docker` on PATH may
# lack buildx but has `stack config`, which validates the stack file.
cli=/usr/bin/docker; [ -x "$cli" ] || cli=$(command -v docker)
validator=""
for c in "$(command -v docker || true)" /usr/bin/docker; do
  if [ -n "$c" ] && "$c" stack config --help >/dev/null 2>&1; then validator=$c; break; fi
done
phase "install packages"

dockerd_pid=""
cleanup() {
  local code=$?
  set +e
  if [ -n "$dockerd_pid" ] && kill -0 "$dockerd_pid" 2>/dev/null; then
    if [ $code -ne 0 ]; then
      say "failed; the stack's tasks and the last lines of each service's log:"
      DOCKER="$cli" node bin/bt-ps.js stack ps --name "$STACK"
      for s in $("$cli" service ls --filter "label=com.docker.stack.namespace=$STACK" --format '{{.Name}}'); do
        echo "--- $s"; "$cli" service logs --raw --tail 15 "$s" 2>&1 | grep -v '^Warning'
      done
    fi
    DOCKER="$cli" node bin/bt-ps.js stack rm --name "$STACK" >/dev/null 2>&1
    for _ in $(seq 1 30); do [ -z "$("$cli" ps -q)" ] && break; sleep 1; done
    "$cli" swarm leave --force >/dev/null 2>&1
    "$cli" network rm docker_gwbridge >/dev/null 2>&1
    kill "$dockerd_pid"
    for _ in $(seq 1 30); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 1; done
    kill -9 "$dockerd_pid" 2>/dev/null
  fi
  ip link delete docker_gwbridge >/dev/null 2>&1
  rm -rf "$work"
  phase "cleanup"
  echo; echo "phase                        time"; printf '%s\n' "${phases[@]}"
  if [ $code -eq 0 ]; then say "passed"; else say "failed (exit $code)"; fi
  exit $code
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# vfs and no iptables: works inside containers and VMs without overlayfs or netfilter rights.
dockerd --data-root "$work/data" --exec-root "$work/exec" --pidfile "$work/dockerd.pid" -H "$DOCKER_HOST" \
  --storage-driver vfs --iptables=false --bridge=none >"$work/dockerd.log" 2>&1 &
dockerd_pid=$!
for _ in $(seq 1 60); do "$cli" version >/dev/null 2>&1 && break; sleep 0.5; done
"$cli" version --format 'engine {{.Server.Version}}' || { tail -20 "$work/dockerd.log"; exit 1; }
phase "start dockerd"

# --- images -----------------------------------------------------------------------------------------------------
# No registry is reachable here: the base image the Dockerfiles name is made locally, the Dockerfiles stay as-is.
bash scripts/make-node-image.sh node:22-bookworm-slim
phase "base image (debootstrap)"
export DOCKER_BUILDKIT=1
"$cli" build -q --network host -f docker/tracker.Dockerfile -t "bt-ps-tracker:$TAG" . >/dev/null
phase "build bt-ps-tracker"
"$cli" build -q --network host -f docker/peer.Dockerfile -t "bt-ps-peer:$TAG" . >/dev/null
phase "build bt-ps-peer"
"$cli" image ls --format '{{.Repository}}:{{.Tag}}  {{.Size}}' | grep -E '^(bt-ps|node)'

# --- the stack --------------------------------------------------------------------------------------------------
read -r admin_port tracker_port < <(node -e "
  const net = require('node:net'); const ports = []
  const next = () => { const s = net.createServer().listen(0, '127.0.0.1', () => { ports.push(s.address().port); s.close(() => ports.length < 2 ? next() : console.log(ports.join(' '))) }) }
  next()")
overrides=(--cluster.stack "$STACK" --cluster.tag "$TAG" --cluster.admin_port "$admin_port" --cluster.tracker_port "$tracker_port" --cluster.psk_file "$work/job.swarm.key")
"$cli" swarm init --advertise-addr 127.0.0.1 >/dev/null
node bin/bt-ps.js stack secrets --config "$CONFIG" "${overrides[@]}"
node bin/bt-ps.js stack generate --config "$CONFIG" "${overrides[@]}" -o "$work/stack.yml"
if [ -n "$validator" ]; then
  "$validator" stack config -c "$work/stack.yml" >/dev/null && say "docker stack config accepts the generated file"
else
  say "no docker CLI here has 'stack config'; the stack file is checked by the deploy alone"
fi
DOCKER="$cli" node bin/bt-ps.js stack deploy --config "$CONFIG" "${overrides[@]}"
phase "swarm init + deploy"

healthy=0
for i in $(seq 1 "$WAIT_HEALTHY_S"); do
  healthy=$("$cli" ps -q --filter "label=io.bt-ps.job=$JOB" --filter health=healthy | wc -l)
  [ "$healthy" -ge 5 ] && break
  [ $((i % 15)) -eq 0 ] && say "${i}s: $healthy of 5 containers healthy"
  sleep 1
done
[ "$healthy" -ge 5 ] || { say "only $healthy of 5 containers became healthy in ${WAIT_HEALTHY_S}s"; exit 1; }
DOCKER="$cli" node bin/bt-ps.js stack ps --name "$STACK"
server=http://127.0.0.1:$admin_port
# The server made its admin token on first start, in its state volume (root may read it).
volume=$("$cli" volume inspect -f '{{.Mountpoint}}' "${STACK}_state")
token=(--token-file "$volume/checkpoints/$JOB/admin-token")
for _ in $(seq 1 30); do [ -s "$volume/checkpoints/$JOB/admin-token" ] && break; sleep 1; done
for _ in $(seq 1 60); do
  n=$(node bin/bt-ps.js status --server "$server" "${token[@]}" --json 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.parse(s).clients.filter(c=>c.online).length)}catch{console.log(0)}})')
  [ "$n" -ge 3 ] && break
  sleep 1
done
[ "$n" -ge 3 ] || { say "only $n of 3 clients logged in to the server"; exit 1; }
phase "containers healthy"

# The containers as the stack asks: read-only root, no capabilities, secrets for the peer user only, the overlay
# encrypted and closed to other containers, and clients that accept only the server's peer id.
role() { "$cli" ps -q --filter "label=io.bt-ps.job=$JOB" --filter "label=io.bt-ps.role=$1" | head -1; }
srv=$(role server); cl=$(role client)
hard=$("$cli" inspect -f '{{.HostConfig.ReadonlyRootfs}} {{.HostConfig.CapDrop}}' "$srv" "$cl" | tr '\n' ' ')
[ "$hard" = "true [ALL] true [ALL] " ] || { say "containers not hardened (ReadonlyRootfs CapDrop): $hard"; exit 1; }
secrets=$("$cli" exec "$srv" stat -c '%a %u' /run/secrets/psk /run/secrets/server_key | tr '\n' ' ')
[ "$secrets" = "400 10001 400 10001 " ] || { say "server secrets are not mode 0400 for uid 10001: $secrets"; exit 1; }
net=$("$cli" network inspect -f '{{.Attachable}} {{index .Options "encrypted"}}' "${STACK}_btps")
[ "$net" = "false true" ] || { say "overlay network (attachable, encrypted) is $net"; exit 1; }
pin=$("$cli" inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$cl" | grep '^BTPS_CLIENT_SERVER=' || true)
[[ "$pin" == *"/p2p/"* ]] || { say "clients do not pin the server's peer id: $pin"; exit 1; }
say "containers read-only without capabilities, secrets 0400 for uid 10001, overlay encrypted and not attachable, server pinned (${pin##*/p2p/})"

# --- rounds -----------------------------------------------------------------------------------------------------
node bin/bt-ps.js round --server "$server" "${token[@]}" --rounds 2 --wait
phase "bt-ps round --rounds 2"

node bin/bt-ps.js status --server "$server" "${token[@]}" --json > "$work/status.json"
node -e '
  const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))
  const r = s.results.filter(x => x.status === "aggregated")
  const fail = (m) => { console.error("swarm-e2e: " + m); process.exit(1) }
  if (r.length !== 2) fail(`expected 2 aggregated rounds, got ${r.length}`)
  if (!(r[1].testAcc1 > r[0].testAcc1)) fail(`accuracy did not rise: ${r[0].testAcc1} then ${r[1].testAcc1}`)
  const peer = r.reduce((n, x) => n + x.peerBytes, 0)
  if (!(peer > 0)) fail("clients exchanged no pieces: every byte came from the server")
  if (r.some(x => x.accepted.length !== 3)) fail("a round aggregated fewer than 3 updates")
  console.log(`swarm-e2e: accuracy ${r[0].testAcc1} -> ${r[1].testAcc1}; clients passed ${(peer / 1e6).toFixed(2)} MB of pieces to each other`)
' "$work/status.json"
events=$(find "$volume/runs/$JOB" -name 'events.out.tfevents.*' | head -1)
[ -n "$events" ] && [ -s "$events" ] || { say "no TensorBoard event file under the state volume"; exit 1; }
say "TensorBoard events: ${events#"$volume"/} ($(stat -c %s "$events") bytes)"
# The server's metrics and dashboard through the published admin port; the stack's services and tasks as JSON.
metrics=$(curl -fsS -H "Authorization: Bearer $(cat "$volume/checkpoints/$JOB/admin-token")" "$server/metrics")
grep -q '^btps_round_finished_total{status="aggregated",role="server"} 2$' <<<"$metrics" || { say "server /metrics does not count 2 aggregated rounds"; exit 1; }
curl -fsS "$server/" | grep -q '<title>bt-ps dashboard</title>' || { say "the dashboard page is not served at $server/"; exit 1; }
DOCKER="$cli" node bin/bt-ps.js stack ps --name "$STACK" --json > "$work/ps.json"
node -e '
  const p = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))
  const running = p.tasks.filter(t => /^Running/.test(t.CurrentState)).length
  if (p.services.length !== 5 || running < 5) { console.error(`swarm-e2e: stack ps --json: ${p.services.length} services, ${running} tasks running`); process.exit(1) }
  console.log(`swarm-e2e: stack ps --json: ${p.services.length} services, ${running} tasks running; /metrics counts 2 aggregated rounds; the dashboard is served`)
' "$work/ps.json"
phase "checks"
