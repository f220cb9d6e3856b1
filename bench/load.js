// A fixed-rate HTTP load generator on loopback: argv port, rate (req/s), seconds, connections.
// Bounded in count and time; prints one JSON line: sent, ok, errors, latency percentiles (ms).
// With a file path as argv[6], also writes every completion there as [Date.now(), latency ms],
// for latencies per window of a longer run.
'use strict';
const http = require('http');
const [port, rate, seconds, conns] = process.argv.slice(2, 6).map(Number);
const marksFile = process.argv[6];
const marks = [];
const agent = new http.Agent({ keepAlive: true, maxSockets: conns });
const lat = [];
let sent = 0;
let ok = 0;
let errors = 0;
const total = Math.round(rate * seconds);
const start = process.hrtime.bigint();
function fire() {
  const t0 = process.hrtime.bigint();
  sent++;
  const req = http.get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
    res.resume();
    res.on('end', () => {
      if (res.statusCode === 200) ok++;
      else errors++;
      const l = Number(process.hrtime.bigint() - t0) / 1e6;
      lat.push(l);
      if (marksFile) marks.push([Date.now(), l]);
      if (ok + errors === total) done();
    });
  });
  req.on('error', () => {
    errors++;
    if (ok + errors === total) done();
  });
}
function tick() {
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  const due = Math.min(total, Math.floor(elapsed * rate));
  while (sent < due) fire();
  if (sent < total) setTimeout(tick, 1);
}
function done() {
  if (marksFile) require('fs').writeFileSync(marksFile, JSON.stringify(marks));
  lat.sort((a, b) => a - b);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))] ?? null;
  process.stdout.write(JSON.stringify({ sent, ok, errors, p50: q(50), p99: q(99), max: lat[lat.length - 1] ?? null }) + '\n');
  agent.destroy();
}
tick();
setTimeout(() => {
  if (ok + errors < total) done();
  process.exit(0);
}, (seconds + 10) * 1000).unref();
