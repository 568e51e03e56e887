# A bootstrap worker in Python (LAMBDA_SANSIO_MODE=worker, _HANDLER='python3 worker.py').
import json, os, sys

answers = os.fdopen(3, "w")
calls = 0  # warm state: kept from one invocation to the next

def handle(event, context):
    global calls
    calls += 1
    if event == "crash":
        sys.exit(1)
    return {"echo": event, "calls": calls, "requestId": context["requestId"]}

answers.write('{"ready": true}\n'); answers.flush()
for line in sys.stdin:
    invocation = json.loads(line)
    try:
        answer = {"requestId": invocation["requestId"], "response": handle(invocation.get("event"), invocation)}
    except Exception as error:
        answer = {"requestId": invocation["requestId"],
                  "error": {"errorType": "Function." + type(error).__name__, "errorMessage": str(error)}}
    answers.write(json.dumps(answer) + "\n"); answers.flush()
