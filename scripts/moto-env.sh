# Sourced by scripts/test and scripts/smoke-arm64: starts a DynamoDB-compatible server (moto)
# on a free loopback port, points the AWS SDK's variables at it, and stops it however the
# sourcing script ends (an EXIT trap).
#
# Installs moto[server] into a cached virtualenv if python3 cannot import it.

venv="${NEPTUN_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/neptun-users/venv}"
if python3 -c 'import moto.server' 2>/dev/null; then
  python=python3
else
  python="$venv/bin/python"
  if ! { [ -x "$python" ] && "$python" -c 'import moto.server' 2>/dev/null; }; then
    echo "$0: installing moto[server] into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'moto[server]>=5,<6'
  fi
fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp -t moto.XXXXXX.log)
# moto's server, serializing request handling as DynamoDB serializes conflicting writes
# (see scripts/moto_serializable.py).
"$python" scripts/moto_serializable.py -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true; rm -f "$log"' EXIT

for _ in $(seq 1 100); do
  if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null; then
    break
  fi
  if ! kill -0 "$moto_pid" 2>/dev/null; then
    echo "$0: the emulator exited:" >&2; cat "$log" >&2; exit 1
  fi
  sleep 0.1
done

export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$port"
export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
# No instance metadata service here: never let the SDK look for one.
export AWS_EC2_METADATA_DISABLED=true NEPTUN_REQUIRE_DYNAMODB=1
unset AWS_PROFILE AWS_SESSION_TOKEN
echo "$0: DynamoDB emulator (moto) at $AWS_ENDPOINT_URL_DYNAMODB" >&2
