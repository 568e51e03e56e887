// A bootstrap worker in Node.js (LAMBDA_SANSIO_MODE=worker, _HANDLER='node worker.js').
const fs = require("fs");
const readline = require("readline");

const answers = fs.createWriteStream(null, { fd: 3 });
const send = (answer) => answers.write(JSON.stringify(answer) + "\n");
const handle = async (event, context) => {
  await new Promise((done) => setTimeout(done, 50)); // answers may come in any order
  return { echo: event, requestId: context.requestId };
};

send({ ready: true });
readline.createInterface({ input: process.stdin }).on("line", async (line) => {
  const invocation = JSON.parse(line);
  try {
    send({ requestId: invocation.requestId, response: await handle(invocation.event, invocation) });
  } catch (error) {
    send({ requestId: invocation.requestId, error: { errorType: "Function." + error.name, errorMessage: error.message } });
  }
});
