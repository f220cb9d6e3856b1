// The live view's own cost per draw, in-process and without a target: `node dist/bench/draw.js
// [cols] [rows] [draws]` (default 120 40 600). It fills the charts' history with an hour of
// readings at 1 s (what a long session holds), then draws the Overview once a simulated second
// as the view does (renderScreen, blessed's setContent and render into a stream nobody reads),
// and prints the CPU time (process.cpuUsage) of each part per draw, over the last three quarters
// of the draws. Not part of `npm test` or `npm run bench`: a number to compare two builds by,
// run in turns on the same machine (its load moves every figure).

import { PassThrough } from 'node:stream';
import blessed from 'blessed';
import { buildSample, type Sample } from '../src/model/sample';
import type { RawSample } from '../src/probes/sample';
import { PAGE_RENDERERS } from '../src/tui/pages';
import { initialState, newHistory, renderScreen } from '../src/tui/render';

const T0 = 1_700_000_000_000;

function raw(i: number): RawSample {
  return {
    timeMs: T0 + i * 1000,
    pid: 4242,
    uptimeSec: 3725 + i,
    memory: { rss: 100 * 2 ** 20 + i * 1000, heapTotal: 60 * 2 ** 20, heapUsed: 30 * 2 ** 20 + (i % 50) * 100_000, external: 2 ** 20, arrayBuffers: 1024 },
    heap: { heapSizeLimit: 4096 * 2 ** 20, totalAvailableSize: 0, mallocedMemory: 0, numberOfNativeContexts: 1, numberOfDetachedContexts: 0 },
    spaces: [{ name: 'old_space', size: 40 * 2 ** 20, used: 39 * 2 ** 20, available: 0 }],
    handles: { Timeout: 3, TCPSocketWrap: 5 },
    requests: { FSReqCallback: 1 },
    cpuUsageMicros: { user: i * 20_000, system: i * 5000 },
    fds: null,
    window: {
      ms: 1000,
      resolutionMs: 50,
      lag: { min: 50e6, max: (52 + (i % 7)) * 1e6, mean: 51e6, stddev: 1, p50: 51e6, p90: 52e6, p99: (52 + (i % 5)) * 1e6, count: 20 },
      elu: { idle: 990, active: 10, utilization: 0.01 + (i % 3) / 100 },
      gc: { minor: { count: i, ms: i } },
    },
    blocked: null,
    unavailable: {},
  };
}

const identity = {
  pid: 4242, ppid: 1, title: 'node', argv: ['/usr/bin/node', '/srv/app.js'], execPath: '/usr/bin/node',
  nodeVersion: 'v20.20.2', v8Version: '11.3', uptimeSec: 1, platform: 'linux', inspectorUrl: null, isMainThread: true, threadId: 0,
};

function sample(i: number): Sample {
  return buildSample({
    identity, inspector: { url: 'ws://127.0.0.1:1/x', openedByNodetop: true }, prev: i ? raw(i - 1) : null, raw: raw(i),
    proc: { fdsOpen: 30, fdsLimit: 1024, threads: 7, nodetop: null }, host: { cpus: 2, loadAvg: [1, 1, 1], memTotalBytes: 8 * 2 ** 30, memAvailableBytes: 2 ** 30 },
  });
}

const [cols = 120, rows = 40, draws = 600] = process.argv.slice(2).map(Number);
const output = Object.assign(new PassThrough(), { columns: cols, rows, isTTY: true });
output.resume();
const input = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => input });
const screen = blessed.screen({ input, output, terminal: 'xterm-256color', smartCSR: true, fullUnicode: true, warnings: false, autoPadding: false } as blessed.Widgets.IScreenOptions);
const box = blessed.box({ top: 0, left: 0, width: '100%', height: '100%', tags: true, wrap: false });
screen.append(box);
const hist = newHistory();
const st = initialState(1000);
const push = (s: Sample, at: number): void => {
  hist.heapUsed.push(s.memory.heapUsedBytes, at);
  hist.heapTotal.push(s.memory.heapTotalBytes, at);
  hist.lagP99.push(s.eventLoop.lagMs?.p99, at);
  hist.lagMax.push(s.eventLoop.lagMs?.max, at);
  hist.elu.push(s.eventLoop.utilization, at);
  hist.cpu.push(s.process.cpuPercent, at);
  hist.rss.push(s.process.rssBytes, at);
};
for (let i = 0; i < 3600; i++) push(sample(i), T0 + i * 1000);
const cpu = (): number => {
  const c = process.cpuUsage();
  return c.user + c.system;
};
const spent = [0, 0, 0];
let prev: Sample | null = null;
for (let k = 0; k < draws; k++) {
  const i = 3600 + k;
  const s = sample(i);
  push(s, T0 + i * 1000);
  st.nowMs = T0 + i * 1000;
  st.answeredAtMs = st.nowMs;
  const a = cpu();
  const lines = renderScreen(s, prev, hist, st, { width: cols, height: rows, color: true, colors: 256, unicode: true, readonly: false }, PAGE_RENDERERS);
  const b = cpu();
  box.setContent(lines.join('\n'));
  const c = cpu();
  screen.render();
  const d = cpu();
  if (k >= draws / 4) {
    spent[0] += b - a;
    spent[1] += c - b;
    spent[2] += d - c;
  }
  prev = s;
}
const n = draws - Math.ceil(draws / 4);
const per = (us: number): string => `${(us / n / 1000).toFixed(2)} ms`;
console.log(`${cols}x${rows}, ${n} draws: renderScreen ${per(spent[0]!)}, setContent ${per(spent[1]!)}, screen.render ${per(spent[2]!)}, total ${per(spent[0]! + spent[1]! + spent[2]!)} a draw`);
screen.destroy();
process.exit(0);
