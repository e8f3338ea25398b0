# shellcheck shell=bash
# Shared definitions for the network/ scripts. Sourced, never run.
#
# Node names, the port layout and the run-folder layout live here so that
# every script agrees on them.

NETWORK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=fabric-version
source "$NETWORK_DIR/fabric-version"

# Binaries are cached per pin. FABRIC_CACHE_DIR may move the cache out of the
# work tree (e.g. to keep it across fresh clones in CI).
FABRIC_CACHE_DIR=${FABRIC_CACHE_DIR:-$NETWORK_DIR/.cache}
FABRIC_BIN=$FABRIC_CACHE_DIR/fabric-$FABRIC_PSEUDO/bin
FABRIC_TOOLS=(peer orderer configtxgen cryptogen osnadmin)

# Defaults for --dir and --base-port; the environment may change them.
RUN_DIR=${FABRIC_RUN_DIR:-$NETWORK_DIR/.run/default}
BASE_PORT=${FABRIC_BASE_PORT:-27000}
CHANNEL=${FABRIC_CHANNEL:-evidence}
# Seconds to wait after SIGTERM before SIGKILL.
STOP_TIMEOUT=${STOP_TIMEOUT:-10}

# Ordering: raft (3 etcdraft orderers of OrdererOrg, the default) or bft
# (4 SmartBFT orderers, one per organisation: OrdererOrg and the ordering
# organisations of the court, the notary and the platform). A network keeps
# the kind it was created with (network.env).
CONSENSUS=${FABRIC_CONSENSUS:-raft}
PEERS=(peer0.court peer0.platform peer0.notary)

# set_consensus: the node lists for $CONSENSUS.
set_consensus() {
  case $CONSENSUS in
    raft) ORDERERS=(orderer0 orderer1 orderer2) ;;
    bft) ORDERERS=(orderer0 orderer1 orderer2 orderer3) ;;
    *) die "unknown consensus '$CONSENSUS' (raft or bft)" ;;
  esac
  NODES=("${ORDERERS[@]}" "${PEERS[@]}")
}

# Fabric's default log format is coloured; keep logs and CLI output plain.
export FABRIC_LOGGING_FORMAT=${FABRIC_LOGGING_FORMAT:-'%{time:2006-01-02 15:04:05.000 MST} %{id:04x} %{level:.4s} [%{module}] %{shortfunc} -> %{message}'}

# usage: print the calling script's header comment.
usage() { sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; }
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
set_consensus

# ---- run folder -------------------------------------------------------------

# use_run_dir DIR: make DIR the run folder (absolute) and load the settings the
# network was created with, if any.
use_run_dir() {
  if [[ -d $1 ]]; then
    RUN_DIR=$(cd "$1" && pwd)
  elif [[ $1 == /* ]]; then
    RUN_DIR=$1
  else
    RUN_DIR=$PWD/$1
  fi
  if [[ -f $RUN_DIR/network.env ]]; then
    # shellcheck source=/dev/null
    source "$RUN_DIR/network.env"
  fi
  set_consensus
}

# require_network: fail unless the run folder holds a generated network.
require_network() {
  [[ -f $RUN_DIR/network.env ]] || die "no network in $RUN_DIR (run network/up first)"
}

# have_fabric_binaries: true when the cache for the pin is complete. A build
# swaps its output in with one rename, so a half-built cache never passes.
have_fabric_binaries() {
  local t
  for t in "${FABRIC_TOOLS[@]}"; do [[ -x $FABRIC_BIN/$t ]] || return 1; done
}

require_binaries() {
  have_fabric_binaries || die "Fabric binaries missing in $FABRIC_BIN (run network/build-fabric, or make fabric)"
}

# lock_cache: hold an exclusive lock on the cache folder until the calling
# script exits, so concurrent builders never build the same thing twice.
# Waits (saying so) while another holds it.
lock_cache() {
  mkdir -p "$FABRIC_CACHE_DIR"
  exec {CACHE_LOCK_FD}>"$FABRIC_CACHE_DIR/.lock"
  if ! flock -n "$CACHE_LOCK_FD"; then
    log "another build holds $FABRIC_CACHE_DIR/.lock; waiting for it"
    flock "$CACHE_LOCK_FD"
  fi
}

# progress_ticker START: print the elapsed time every 30 s (run in the
# background during long builds; kill it when done). Killed, it kills its
# sleep too, which would otherwise hold the caller's stderr (a pipe to make or
# to a test) and the cache lock for up to 30 s; it also lets go of the lock at
# once, and ends by itself when the build script is gone.
progress_ticker() {
  if [[ -n ${CACHE_LOCK_FD:-} ]]; then exec {CACHE_LOCK_FD}>&-; fi
  local nap=''
  trap '[[ -n $nap ]] && kill "$nap" 2>/dev/null; exit 0' TERM
  while kill -0 $$ 2>/dev/null; do
    sleep 30 & nap=$!
    wait "$nap" || true
    kill -0 $$ 2>/dev/null && log "still building ($((SECONDS - $1)) s)"
  done
}

# ---- nodes ------------------------------------------------------------------

is_orderer() { [[ $1 == orderer[0-9] ]]; }
is_peer() { [[ " ${PEERS[*]} " == *" $1 "* ]]; }
require_node() {
  is_orderer "$1" || is_peer "$1" || die "unknown node '$1' (one of: ${NODES[*]})"
}

# org_of NODE: short org name of the node's organisation (orderer, court,
# platform, notary; on BFT orderer1..3 belong to court-orderer,
# notary-orderer, platform-orderer).
org_of() {
  if is_orderer "$1"; then
    if [[ $CONSENSUS == bft ]]; then
      case $1 in
        orderer1) echo court-orderer ;; orderer2) echo notary-orderer ;;
        orderer3) echo platform-orderer ;; *) echo orderer ;;
      esac
    else
      echo orderer
    fi
  else
    echo "${1#*.}"
  fi
}
is_orderer_org() { [[ $1 == orderer || $1 == *-orderer ]]; }
# domain_of_org ORG: court -> court.evidence, court-orderer -> orderer.court.evidence.
domain_of_org() { if [[ $1 == *-orderer ]]; then echo "orderer.${1%-orderer}.evidence"; else echo "$1.evidence"; fi; }
# msp_id_of_org ORG: court -> CourtMSP, court-orderer -> CourtOrdererMSP.
msp_id_of_org() {
  case $1 in
    orderer) echo OrdererMSP ;;
    *-orderer) local o=${1%-orderer}; echo "${o^}OrdererMSP" ;;
    *) echo "${1^}MSP" ;;
  esac
}
host_of() { if is_orderer "$1"; then echo "$1.$(domain_of_org "$(org_of "$1")")"; else echo "$1.evidence"; fi; }

# crypto_of NODE: the node's folder in the cryptogen output (msp/, tls/).
crypto_of() {
  local org; org=$(org_of "$1")
  if is_orderer "$1"; then
    echo "$RUN_DIR/crypto/ordererOrganizations/$(domain_of_org "$org")/orderers/$(host_of "$1")"
  else
    echo "$RUN_DIR/crypto/peerOrganizations/$(domain_of_org "$org")/peers/$(host_of "$1")"
  fi
}

# user_of ORG USER: an org user's folder (USER is Admin or User1).
user_of() {
  local kind=peerOrganizations
  is_orderer_org "$1" && kind=ordererOrganizations
  echo "$RUN_DIR/crypto/$kind/$(domain_of_org "$1")/users/$2@$(domain_of_org "$1")"
}

# orderer_tls_ca [ORDERER]: the TLS CA of the orderer's organisation
# (default orderer0).
orderer_tls_ca() {
  local d; d=$(domain_of_org "$(org_of "${1:-orderer0}")")
  echo "$RUN_DIR/crypto/ordererOrganizations/$d/tlsca/tlsca.$d-cert.pem"
}

# chaincode_tls: the folder with the chaincode server's TLS key pair
# (server.crt, server.key) and the CA that issued it (ca.crt), from the
# crypto generated for this run (organisation chaincode.evidence, which is
# in no channel: it only issues chaincode server certificates).
chaincode_tls() { echo "$RUN_DIR/crypto/peerOrganizations/chaincode.evidence/peers/evidence.chaincode.evidence/tls"; }

# ---- ports ------------------------------------------------------------------
#
# Every node gets a block of 10 ports above the base port:
#   orderer<i>:    base+10*i (i=0..2), orderer3 (BFT only) base+60
#                  +0 listen  +1 cluster  +2 admin  +3 operations
#   peer0.court base+30, peer0.platform base+40, peer0.notary base+70
#                  +0 listen  +1 chaincode  +2 operations
#   base+50..59:   free for chaincode servers (see chaincode_port).
# A network uses base .. base+79.

# port NODE KIND
port() {
  local node=$1 kind=$2 block off
  if is_orderer "$node"; then
    block=$(( ${node#orderer} * 10 ))
    ((block == 30)) && block=60
    case $kind in listen) off=0 ;; cluster) off=1 ;; admin) off=2 ;; ops) off=3 ;;
      *) die "orderer has no $kind port" ;; esac
  else
    case $node in
      peer0.court) block=30 ;; peer0.platform) block=40 ;; peer0.notary) block=70 ;;
      *) die "unknown peer $node" ;;
    esac
    case $kind in listen) off=0 ;; chaincode) off=1 ;; ops) off=2 ;;
      *) die "peer has no $kind port" ;; esac
  fi
  echo $(( BASE_PORT + block + off ))
}

# chaincode_port N: the N-th (0..9) port set aside for chaincode servers.
chaincode_port() { echo $(( BASE_PORT + 50 + ${1:-0} )); }

node_ports() {
  if is_orderer "$1"; then
    echo "$(port "$1" listen) $(port "$1" cluster) $(port "$1" admin) $(port "$1" ops)"
  else
    echo "$(port "$1" listen) $(port "$1" chaincode) $(port "$1" ops)"
  fi
}

# port_in_use PORT: something accepts connections on 127.0.0.1:PORT.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---- processes ----------------------------------------------------------------
#
# Each node runs with its working directory set to RUN_DIR/nodes/NAME; a PID
# file is trusted only if that process still runs there (guards against PID
# reuse after a reboot or a crash).

pid_file() { echo "$RUN_DIR/pids/$1.pid"; }
node_dir() { echo "$RUN_DIR/nodes/$1"; }

# node_pid NODE: print the PID and succeed if the node is running.
node_pid() {
  local f pid; f=$(pid_file "$1")
  [[ -f $f ]] || return 1
  pid=$(<"$f")
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  [[ $(readlink "/proc/$pid/cwd" 2>/dev/null) == "$(node_dir "$1")" ]] || return 1
  echo "$pid"
}

is_running() { node_pid "$1" >/dev/null; }

healthy() { curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$(port "$1" ops)/healthz"; }

# start_node NODE: launch the node in the background and wait until its
# operations endpoint reports healthy.
start_node() {
  local node=$1 dir log pid i
  if is_running "$node"; then
    log "$node already running (pid $(node_pid "$node"))"
    return 0
  fi
  dir=$(node_dir "$node")
  log=$RUN_DIR/logs/$node.log
  [[ -d $dir ]] || die "no config for $node in $dir (run network/up)"
  local p
  for p in $(node_ports "$node"); do
    port_in_use "$p" && die "port $p for $node is already in use (another network on these ports? pick another --base-port)"
  done
  mkdir -p "$RUN_DIR/pids" "$RUN_DIR/logs"
  printf '\n===== %s starting %s =====\n' "$(date '+%F %T')" "$node" >>"$log"
  if is_orderer "$node"; then
    (cd "$dir" && FABRIC_CFG_PATH=$dir exec nohup "$FABRIC_BIN/orderer" start) </dev/null >>"$log" 2>&1 &
  else
    (cd "$dir" && FABRIC_CFG_PATH=$dir exec nohup "$FABRIC_BIN/peer" node start) </dev/null >>"$log" 2>&1 &
  fi
  pid=$!
  echo "$pid" >"$(pid_file "$node")"
  for ((i = 0; i < 300; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 20 "$log" >&2
      die "$node exited during start-up (log: $log)"
    fi
    healthy "$node" && { log "$node started (pid $pid)"; return 0; }
    sleep 0.1
  done
  die "$node not healthy after 30 s (log: $log)"
}

# stop_nodes [--kill] NODE...: SIGTERM the nodes together, then SIGKILL those
# still running after STOP_TIMEOUT seconds; with --kill, SIGKILL at once.
stop_nodes() {
  local sig=TERM node pid i left
  [[ ${1:-} == --kill ]] && { sig=KILL; shift; }
  local -A pids=()
  for node in "$@"; do
    if pid=$(node_pid "$node"); then
      kill -"$sig" "$pid" 2>/dev/null || true
      pids[$node]=$pid
    else
      rm -f "$(pid_file "$node")"
      log "$node not running"
    fi
  done
  for ((i = 0; i <= STOP_TIMEOUT * 10; i++)); do
    left=0
    for node in "${!pids[@]}"; do kill -0 "${pids[$node]}" 2>/dev/null && left=1; done
    ((left)) || break
    sleep 0.1
  done
  for node in "${!pids[@]}"; do
    pid=${pids[$node]}
    if kill -0 "$pid" 2>/dev/null; then
      log "$node did not stop within ${STOP_TIMEOUT}s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
    rm -f "$(pid_file "$node")"
    log "$node stopped (pid $pid, SIG$sig)"
  done
}

# ---- Fabric CLI helpers ----------------------------------------------------------

# as_admin PEER CMD...: run a Fabric CLI command as PEER's org admin, talking
# to PEER (the peer CLI reads its address and TLS CA from the node's core.yaml).
as_admin() {
  local peer=$1; shift
  FABRIC_CFG_PATH=$(node_dir "$peer") \
    CORE_PEER_MSPCONFIGPATH=$(user_of "$(org_of "$peer")" Admin)/msp \
    FABRIC_LOGGING_SPEC=${FABRIC_LOGGING_SPEC:-warning} \
    "$@"
}

# osnadmin_on ORDERER ARGS...: call the orderer's channel participation API as
# the orderer org admin.
osnadmin_on() {
  local o=$1 admin; shift
  admin=$(user_of "$(org_of "$o")" Admin)/tls
  "$FABRIC_BIN/osnadmin" "$@" -o "127.0.0.1:$(port "$o" admin)" \
    --ca-file "$(orderer_tls_ca "$o")" --client-cert "$admin/client.crt" --client-key "$admin/client.key"
}

# a_running_orderer: the first orderer that is up (for broadcast).
a_running_orderer() {
  local o
  for o in "${ORDERERS[@]}"; do is_running "$o" && { echo "$o"; return 0; }; done
  die "no orderer is running"
}

# raft_leader: print the orderer that reports itself leader of CHANNEL
# (Raft leader, or on BFT the SmartBFT leader of the latest committed block).
raft_leader() {
  local o m metric=consensus_etcdraft_is_leader
  [[ $CONSENSUS == bft ]] && metric=consensus_BFT_is_leader
  for o in "${ORDERERS[@]}"; do
    # Read the whole page first: grep -q on a pipe would SIGPIPE curl and
    # fail the pipeline under pipefail.
    m=$(curl -sf --max-time 2 "http://127.0.0.1:$(port "$o" ops)/metrics" 2>/dev/null) || continue
    [[ $m == *$'\n'"$metric{channel=\"$CHANNEL\"} 1"* ]] && { echo "$o"; return 0; }
  done
  return 1
}

# peer_height PEER: the peer's block height on CHANNEL, from its metrics.
peer_height() {
  local m
  m=$(curl -sf --max-time 2 "http://127.0.0.1:$(port "$1" ops)/metrics" 2>/dev/null) || return 1
  sed -n "s/^ledger_blockchain_height{channel=\"$CHANNEL\"} \([0-9.e+]*\)$/\1/p" <<<"$m"
}

# peers_known PEER: how many other peers of CHANNEL PEER knows through gossip.
peers_known() {
  local m n
  m=$(curl -sf --max-time 2 "http://127.0.0.1:$(port "$1" ops)/metrics" 2>/dev/null) || { echo 0; return; }
  n=$(sed -n "s/^gossip_membership_total_peers_known{channel=\"$CHANNEL\"} \([0-9]*\)$/\1/p" <<<"$m")
  echo "${n:-0}"
}

# wait_until DESC SECONDS CMD...: poll CMD every 0.2 s until it succeeds.
wait_until() {
  local desc=$1 secs=$2 i; shift 2
  for ((i = 0; i < secs * 5; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  die "timed out after ${secs}s waiting for $desc"
}

# parse_dir_opt ARGS...: handle --dir DIR; leaves the other arguments in REST.
parse_dir_opt() {
  REST=()
  while (($#)); do
    case $1 in
      --dir) [[ $# -ge 2 ]] || die "--dir needs a value"; RUN_DIR=$2; shift 2 ;;
      --dir=*) RUN_DIR=${1#--dir=}; shift ;;
      *) REST+=("$1"); shift ;;
    esac
  done
}
