// A target exits when it would have exited unobserved. Node holds an exiting process ("Waiting
// for the debugger to disconnect...") while an inspector client is connected: nodetop must
// notice the exit and leave at once, on every way a process ends, whatever command is attached,
// and report the end as the target's (exit code 8, watch's `exited` event, export dropping it,
// the live view saying so).
//
// Each way is first timed unobserved (test/fixtures/exits.js, from its "ending" line to its exit
// event), then with each command attached: the fixture begins to end as soon as nodetop's
// instruments are in (in the middle of the command). A held process is held for ever (or for the
// 60 s window or profile the commands are given here), so the bound, the unobserved time plus
// MARGIN_MS, is generous against a loaded machine and still catches it. The figures are
// printed; npm run bench is where speed is measured.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { startExporter } from '../helpers/exporter';
import { eventually, ROOT, runCli, startTarget, type CliResult, type Target } from '../helpers/target';
import { haveTmux, openTerminal } from '../helpers/tmux';

const MARGIN_MS = 1000;
/** The commands that stay attached see the target end this long after their instruments are in. */
const STEADY_MS = 1500;
/**
 * A snapshot freezes the main thread while V8 builds it (1-2 s for this fixture on a loaded
 * machine), and inspector requests run between JavaScript instructions: one can land in the
 * middle of the exit's own JavaScript (process.exit's 'exit' listeners, the uncaught exception's
 * report) and delay it by that much, as the user asked. Its bound allows for one snapshot.
 */
const SNAPSHOT_MARGIN_MS = 10_000;
/** How long a test waits for a target that should have exited: past it, the target was held. */
const HELD_AFTER_MS = 20_000;

const WAYS = ['natural', 'exit', 'throw', 'signal-handled', 'signal', 'exec'] as const;
type Way = (typeof WAYS)[number] | 'worker';

/**
 * process.execve() arrived in Node 22.15 and 23.11; Node 22 and 24 run the exit hooks before it
 * (so an inspector client holds the exec), 26 no longer does. The test runs the exec way on the
 * first of 24, 22, 26 that `test/matrix/install-nodes.js` installed, or on this Node if it has execve.
 */
function execNode(): string | null {
  if (typeof (process as unknown as { execve?: unknown }).execve === 'function') return process.execPath;
  try {
    const m = JSON.parse(fs.readFileSync(path.join(ROOT, '.cache/nodes/manifest.json'), 'utf8')) as { nodes: Record<string, { version: string; bin: string }> };
    for (const major of ['24', '22', '26']) {
      const n = m.nodes[major];
      if (!n || !fs.existsSync(n.bin)) continue;
      const [a, b] = n.version.split('.').map(Number) as [number, number];
      if (a > 22 || (a === 22 && b >= 15)) return n.bin;
    }
  } catch {
    /* none installed */
  }
  return null;
}
const EXEC_NODE = execNode();
const skipExec = EXEC_NODE ? false : 'process.execve needs Node 22.15+: run node test/matrix/install-nodes.js 24';

interface Ended {
  /** From the fixture's "ending" line to its exit (a worker: from its last message to its exit event). */
  ms: number;
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface Run {
  t: Target;
  /** Resolves when the target has ended (or after HELD_AFTER_MS: ms is then Infinity). */
  ended: Promise<Ended>;
}

/** `observed`: end that many ms after nodetop's instruments are in (0: at once, mid-command); null: now, unobserved. */
async function start(way: Way, observed: number | null): Promise<Run> {
  const t = await startTarget('exits.js', { args: [way], nodeArgs: ['--inspect-port=0'], ...(way === 'exec' ? { node: EXEC_NODE! } : {}) });
  let endingAt = 0;
  readline.createInterface({ input: t.child.stdout! }).on('line', (l) => {
    if (l.includes('"ending"')) endingAt = performance.now();
  });
  const cmd = observed === null ? 'end' : `endWhenWatched ${observed}`;
  let ended: Promise<Ended>;
  if (way === 'worker') {
    ended = t.ask(cmd, HELD_AFTER_MS + 5000).then(
      (r) => ({ ms: Number(r.workerEndMs), code: null, signal: null }),
      () => ({ ms: Infinity, code: null, signal: null }),
    );
  } else {
    t.child.stdin!.write(`${cmd}\n`);
    let guard: NodeJS.Timeout | undefined;
    ended = Promise.race([
      t.exited.then((e) => ({ ms: endingAt ? performance.now() - endingAt : Infinity, ...e })),
      new Promise<Ended>((r) => (guard = setTimeout(() => r({ ms: Infinity, code: null, signal: null }), HELD_AFTER_MS))),
    ]).finally(() => clearTimeout(guard));
  }
  return { t, ended };
}

const unobservedMs = new Map<Way, Ended>();
const figures: string[] = [];

async function unobserved(way: Way): Promise<Ended> {
  const r = await start(way, null);
  try {
    return await r.ended;
  } finally {
    await r.t.kill();
  }
}

function checkEnd(way: Way, cmd: string, got: Ended, marginMs = MARGIN_MS): void {
  const base = unobservedMs.get(way)!;
  figures.push(`${cmd.padEnd(9)} ${way.padEnd(15)} unobserved ${base.ms.toFixed(0).padStart(4)} ms, observed ${got.ms.toFixed(0).padStart(5)} ms`);
  assert.ok(got.ms <= base.ms + marginMs, `${way} under ${cmd}: the target took ${got.ms.toFixed(0)} ms to exit, ${base.ms.toFixed(0)} ms unobserved: nodetop held it`);
  if (way !== 'worker') assert.deepEqual({ code: got.code, signal: got.signal }, { code: base.code, signal: base.signal }, `${way} under ${cmd}: the exit status changed`);
}

/**
 * `afterMs`: the commands that stay attached see the target end in their steady state (between
 * two samples, as a service stopped while watched would); the one-shot ones in their middle.
 */
function wayTests(cmd: string, ways: readonly Way[], run: (way: Way, r: Run) => Promise<void>, afterMs = 0): void {
  describe(cmd, () => {
    for (const way of ways) {
      it(`${way}: the target exits as it would unobserved; ${cmd} reports it`, { skip: way === 'exec' ? skipExec : false }, async () => {
        const r = await start(way, afterMs);
        try {
          await run(way, r);
        } finally {
          await r.t.kill();
        }
      });
    }
  });
}

/** A one-shot command: exit 8 and one sentence (or 0 when it finished before the target began to end). */
function checkOneShot(cli: CliResult, pid: number, zeroAllowed: boolean): void {
  if (zeroAllowed && cli.code === 0) return;
  assert.equal(cli.code, 8, cli.stderr);
  assert.match(cli.stderr, new RegExp(`pid ${pid} exited`));
  assert.doesNotMatch(cli.stderr, /failed in the target|Cannot find context|\n\s+at /);
}

describe('a target exits when it would have exited unobserved', () => {
  before(async () => {
    for (const way of [...WAYS, 'worker'] as Way[]) {
      if (way === 'exec' && !EXEC_NODE) continue;
      unobservedMs.set(way, await unobserved(way));
    }
  });
  after(() => {
    process.stderr.write(`[harm] exit times (the ending line to the exit event):\n${figures.map((f) => `  ${f}`).join('\n')}\n`);
  });

  wayTests('watch', WAYS, async (way, r) => {
    const cli = runCli(['watch', String(r.t.pid), '--json', '--interval', '1s'], { hangGuardMs: 60_000 });
    checkEnd(way, 'watch', await r.ended);
    const res = await cli;
    assert.equal(res.code, 8, res.stderr);
    const last = JSON.parse(res.stdout.trim().split('\n').pop()!) as { event?: string; pid?: number };
    assert.deepEqual({ event: last.event, pid: last.pid }, { event: 'exited', pid: r.t.pid }, res.stdout);
    assert.doesNotMatch(res.stdout, /"event":"error"/);
  }, STEADY_MS);

  wayTests('stats', [...WAYS, 'worker'], async (way, r) => {
    const cli = runCli(['stats', String(r.t.pid), '--window', way === 'worker' ? '3s' : '60s'], { hangGuardMs: 90_000 });
    checkEnd(way, 'stats', await r.ended);
    const res = await cli;
    if (way === 'worker') assert.equal(res.code, 0, res.stderr);
    else checkOneShot(res, r.t.pid, false);
  }, 500);

  wayTests('export', WAYS, async (way, r) => {
    const ex = await startExporter(['--interval', '1s', String(r.t.pid)]);
    try {
      checkEnd(way, 'export', await r.ended);
      const said = await eventually(() => ex.stderr(), (s) => /exited: its series stop/.test(s), 5000);
      assert.match(said, new RegExp(`pid ${r.t.pid} exited: its series stop`));
      assert.doesNotMatch((await ex.scrape()).body, new RegExp(`pid="${r.t.pid}"`));
    } finally {
      assert.equal(await ex.stop(), 143);
    }
  }, STEADY_MS);

  const noTmux = haveTmux() ? false : 'tmux is not installed';
  describe('the live view', { skip: noTmux }, () => {
    wayTests('attach', [...WAYS, 'worker'], async (way, r) => {
      const term = openTerminal(['attach', String(r.t.pid), '--interval', '1s'], { cols: 100, rows: 30 });
      try {
        checkEnd(way, 'view', await r.ended);
        if (way === 'worker') {
          term.keys('q');
          assert.equal(await term.exitCode(), 0);
        } else {
          await term.waitFor(new RegExp(`pid ${r.t.pid} exited`));
          // the view keeps its last screen a moment (or until a key) and exits 8
          const code = await term.exitCode(4000).catch(() => {
            term.keys('q');
            return term.exitCode();
          });
          assert.equal(code, 8);
        }
      } finally {
        term.close();
      }
    }, STEADY_MS);
  });

  // a forced GC and a snapshot take milliseconds: the target may begin to end after them (exit 0)
  wayTests('gc', WAYS, async (way, r) => {
    const cli = runCli(['gc', String(r.t.pid)]);
    checkEnd(way, 'gc', await r.ended);
    checkOneShot(await cli, r.t.pid, true);
  });

  wayTests('snapshot', WAYS, async (way, r) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-exits-'));
    try {
      const cli = runCli(['snapshot', String(r.t.pid), '-o', path.join(dir, 's.heapsnapshot')], { hangGuardMs: 60_000 });
      checkEnd(way, 'snapshot', await r.ended, SNAPSHOT_MARGIN_MS);
      const res = await cli;
      checkOneShot(res, r.t.pid, true);
      if (res.code === 8) assert.deepEqual(fs.readdirSync(dir), []);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  wayTests('profile', WAYS, async (way, r) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-exits-'));
    try {
      const cli = runCli(['profile', String(r.t.pid), '--duration', '60s', '-o', path.join(dir, 'p.cpuprofile')], { hangGuardMs: 90_000 });
      checkEnd(way, 'profile', await r.ended);
      checkOneShot(await cli, r.t.pid, false);
      assert.deepEqual(fs.readdirSync(dir), []);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
