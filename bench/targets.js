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
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
