#!/bin/sh
# The chat function's Lambda handler. The Lambda Web Adapter's wrapper (AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap)
# execs this instead of the Python runtime; the adapter then relays API Gateway's requests to uvicorn on $PORT
# and streams the responses back (AWS_LWA_INVOKE_MODE=response_stream).
cd "${LAMBDA_TASK_ROOT:-$(dirname "$0")/..}" || exit 1
exec python3 -m uvicorn chat_api.app:create_app --factory \
    --host 127.0.0.1 --port "${PORT:-8080}" --no-access-log --timeout-graceful-shutdown 2
