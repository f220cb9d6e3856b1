// The net probe's cost inside a target holding many sockets: this process is the target. It
// opens N loopback client connections (to helper server processes, so its own fds are all
// client sockets), optionally puts some through a keep-alive agent, and times netProbe.fn called
// directly, as Runtime.evaluate would run it.
// Usage: node --inspect-port=0 dist/bench/net.js [N ...]   (HOLD=1: stay up after each N as a
// target for `nodetop stats`; --inspect-port=0 keeps SIGUSR1 off the shared port 9229)
//
// Not a test: numbers, not assertions. The soft and hard fd limits of the machine bound N.

import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import * as os from 'node:os';
import { netProbe, type RawNet } from '../src/probes/net';

const SERVER = `
const net = require('net');
const held = [];
const srv = net.createServer((s) => { held.push(s); s.on('error', () => {}); });
srv.listen(0, '127.0.0.1', () => process.send(srv.address().port));
process.on('disconnect', () => process.exit(0));
`;

async function servers(n: number): Promise<{ ports: number[]; procs: ChildProcess[] }> {
  const procs: ChildProcess[] = [];
  const ports: number[] = [];
  for (let i = 0; i < n; i++) {
    const p = spawn(process.execPath, ['-e', SERVER], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    procs.push(p);
    ports.push(await new Promise<number>((r) => p.once('message', (m) => r(m as number))));
  }
  return { ports, procs };
}

async function open(count: number, ports: number[]): Promise<net.Socket[]> {
  const out: net.Socket[] = [];
  const batch = 500;
  for (let i = 0; i < count; i += batch) {
    const k = Math.min(batch, count - i);
    const made = await Promise.all(
      Array.from({ length: k }, (_, j) =>
        new Promise<net.Socket>((resolve, reject) => {
          const s = net.connect(ports[(i + j) % ports.length]!, '127.0.0.1', () => resolve(s));
          s.on('error', reject);
        }),
      ),
    );
    out.push(...made);
  }
  return out;
}

// Wall time, and CPU time (process.cpuUsage: this process does nothing else meanwhile), which a
// busy shared machine disturbs less than wall time.
function time(runs: number): { min: number; median: number; max: number; cpuMedian: number; bytes: number; r: RawNet } {
  const t: number[] = [];
  const c: number[] = [];
  let r: RawNet | null = null;
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    r = netProbe.fn({ top: 20, groups: 50 }) as RawNet;
    t.push(performance.now() - t0);
    const d = process.cpuUsage(c0);
    c.push((d.user + d.system) / 1000);
  }
  t.sort((a, b) => a - b);
  c.sort((a, b) => a - b);
  const mid = Math.floor(t.length / 2);
  return { min: t[0]!, median: t[mid]!, max: t[t.length - 1]!, cpuMedian: c[mid]!, bytes: JSON.stringify(r).length, r: r! };
}

async function main(): Promise<void> {
  const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
  const { ports, procs } = await servers(2);
  console.log(`node ${process.version}, ${os.availableParallelism()} cpus (${os.cpus()[0]?.model ?? '?'}), load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const socks: net.Socket[] = [];
  try {
    for (const n of sizes.length ? sizes : [2000, 19900]) {
      socks.push(...(await open(n - socks.length, ports)));
      const warm = time(3);
      const m = time(15);
      console.log(
        `${String(warm.r.total).padStart(6)} sockets: netProbe min ${m.min.toFixed(1)} ms, median ${m.median.toFixed(1)} ms, max ${m.max.toFixed(1)} ms wall, CPU median ${m.cpuMedian.toFixed(1)} ms; result ${m.bytes} bytes of JSON (${m.r.groups.length} groups, ${m.r.top.length} top)`,
      );
      if (process.env.HOLD) {
        // stay up as a target for `nodetop stats` (the whole round trip, --census): Enter goes on
        console.log(`holding ${n} sockets in pid ${process.pid}: press Enter to go on`);
        await new Promise((r) => process.stdin.once('data', r));
      }
    }
  } finally {
    for (const s of socks) s.destroy();
    for (const p of procs) p.kill();
  }
}

void main();
