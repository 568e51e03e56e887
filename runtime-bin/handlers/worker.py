# A bootstrap worker in Python (LAMBDA_SANSIO_MODE=worker, _HANDLER='python3 worker.py').
# Bytes in and out (sys.stdin.buffer, os.write): no text layer to pay for.
import json, os, sys

calls = 0  # warm state: kept from one invocation to the next

def handle(event, context):
    global calls
    calls += 1
    if event == "crash":
        sys.exit(1)
    return {"echo": event, "calls": calls, "requestId": context["requestId"]}

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
