// Bench targets, plain JS, started as their own processes; each prints one JSON ready line.
//   sockets <n>        holds n client TCP sockets to a sink in another process (argv[3] = port)
//   http               an HTTP server answering a small JSON body
'use strict';
const net = require('net');
const http = require('http');
const mode = process.argv[2];
function ready(extra) {
  process.stdout.write(JSON.stringify({ ready: true, pid: process.pid, ...extra }) + '\n');
}
if (mode === 'sockets') {
  const n = Number(process.argv[3]);
  const port = Number(process.argv[4]);
  const held = [];
  let open = 0;
  if (n === 0) ready({ sockets: 0 });
  const next = (i) => {
    if (i >= n) return;
    const s = net.connect(port, '127.0.0.1', () => {
      if (++open === n) ready({ sockets: n });
    });
    s.on('error', () => {});
    held.push(s);
    // connect in batches so the listen backlog keeps up
    if (i % 200 === 199) setTimeout(() => next(i + 1), 5);
    else next(i + 1);
  };
  next(0);
  setInterval(() => {}, 1000);
} else if (mode === 'http') {
  const body = JSON.stringify({ ok: true, items: [1, 2, 3] });
  const srv = http.createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(body);
  });
  srv.keepAliveTimeout = 60_000;
  srv.listen(0, '127.0.0.1', () => ready({ port: srv.address().port }));
} else if (mode === 'sink') {
  // the far end of the sockets target, in a process of its own
  const held = [];
  const srv = net.createServer((s) => held.push(s));
  srv.maxConnections = 1e6;
  srv.listen(0, '127.0.0.1', 4096, () => ready({ port: srv.address().port }));
} else if (mode === 'spin') {
  setInterval(() => {}, 1000);
  ready({});
  setImmediate(function spin() {
    const end = Date.now() + 1e9;
    while (Date.now() < end);
  });
} else if (mode === 'workers') {
  // n workers, each holding a little heap and idling
  const { Worker } = require('worker_threads');
  const n = Number(process.argv[3]);
  let up = 0;
  for (let i = 0; i < n; i++) {
    const w = new Worker('const keep = Array.from({ length: 1e5 }, (_, i) => ({ i })); require("worker_threads").parentPort.postMessage(1); setInterval(() => keep.length, 1000);', { eval: true, name: `w${i + 1}` });
    w.once('message', () => {
      if (++up === n) ready({ workers: n });
    });
  }
  setInterval(() => {}, 1000);
} else if (mode === 'heap') {
  // an object-dense heap of about argv[3] MiB; "snap <path>" on stdin writes a snapshot in-process
  const mb = Number(process.argv[3]);
  const keep = [];
  for (let i = 0; i < mb * 1024 * 1024 / 64; i++) keep.push({ i, s: 'x' + (i % 1000), next: null });
  globalThis.keep = keep;
  if (global.gc) global.gc();
  require('readline').createInterface({ input: process.stdin }).on('line', (line) => {
    const [cmd, file] = line.split(' ');
    if (cmd !== 'snap') return;
    const t0 = process.hrtime.bigint();
    require('v8').writeHeapSnapshot(file);
    process.stdout.write(JSON.stringify({ snapMs: Number(process.hrtime.bigint() - t0) / 1e6 }) + '\n');
  });
  ready({ heapUsed: process.memoryUsage().heapUsed });
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
