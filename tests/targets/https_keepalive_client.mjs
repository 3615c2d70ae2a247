// A Node.js HTTPS client for upspan's end-to-end tests: GETs one after another through one
// keep-alive `https.Agent` (the first request is written before the handshake completes).
//
// Usage: node https_keepalive_client.mjs PORT COUNT
//
// Prints `listening 0` once started (so the harness's start-up wait works), then on SIGUSR2
// GETs https://127.0.0.1:PORT/bytes/1 … /bytes/COUNT, one at a time, and prints `done`.

import https from "node:https";
import process from "node:process";

const [port, count] = process.argv.slice(2).map(Number);
const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });

function get(path) {
  return new Promise((resolve, reject) => {
    https.get({ host: "127.0.0.1", port, path, agent, rejectUnauthorized: false }, (res) => {
      res.resume();
      res.on("end", resolve);
    }).on("error", reject);
  });
}

process.on("SIGUSR2", async () => {
  for (let i = 1; i <= count; i++) await get(`/bytes/${i}`);
  console.log("done");
});
console.log("listening 0");
setInterval(() => {}, 1 << 30);
