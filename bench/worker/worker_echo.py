"""echo.handle as a bootstrap worker (LAMBDA_SANSIO_MODE=worker): the line
protocol of `bootstrap --help`, reading and writing bytes (no text layer)."""

import json
import os
import sys

from echo import handle

parse = json.JSONDecoder().raw_decode  # json.loads without checks these lines never need

os.write(3, b'{"ready": true}\n')
for line in sys.stdin.buffer:
    invocation, _ = parse(line.decode())
    try:
        answer = {"requestId": invocation["requestId"], "response": handle(invocation.get("event"), invocation)}
    except Exception as error:
        answer = {"requestId": invocation["requestId"],
                  "error": {"errorType": "Function." + type(error).__name__, "errorMessage": str(error)}}
    os.write(3, json.dumps(answer).encode() + b"\n")
