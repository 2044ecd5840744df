#!/usr/bin/env bash
# Regenerate processors/codecs/sparkplug/sparkplug_b_pb2.py from sparkplug_b.proto.
# Needs the dev extra (grpcio-tools). Run from anywhere: bash scripts/gen_proto.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-$root/.venv/bin/python}"
proto_dir="$root/processors/codecs/sparkplug"
# The generated module pins the protobuf runtime to at least the version of grpcio-tools' protoc;
# keep the protobuf lower bound in pyproject.toml in step after regenerating.
"$python" -m grpc_tools.protoc \
    --proto_path="$proto_dir" \
    --python_out="$proto_dir" \
    "$proto_dir/sparkplug_b.proto"
echo "generated $proto_dir/sparkplug_b_pb2.py"
