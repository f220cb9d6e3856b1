// What nodetop sends: every protocol method during `stats` and during the live view (with a GC
// key press), recorded with NODETOP_DEBUG=protocol, against the exact allowed set. Enabling a
// domain (Runtime.enable serialises every console call to the client: 3.2x the CPU per request
// of a logging service; Debugger.enable with async stacks 5.4x), profiling, heap tracking or
// queryObjects in the steady state is a failure.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { runCli, startTarget } from '../helpers/target';
import { haveTmux, openTerminal } from '../helpers/tmux';

// Runtime.getIsolateId is the ACK nudge (src/inspector/session.ts): no domain, no JavaScript,
// sent only when replies overlap, so it may or may not appear. Each trace line starts with the
// milliseconds since nodetop started.
function methods(traceText: string): string[] {
  return [...new Set([...traceText.matchAll(/^\s*[\d.]+ -> (\S+)/gm)].map((m) => m[1]!))].filter((m) => m !== 'Runtime.getIsolateId').sort();
}

// Probes go by Runtime.callFunctionOn (a constant source: src/probes/probe.ts says why). The
// NodeWorker domain reaches worker threads: it forwards no console messages and enables nothing
// in the workers (README, "Worker threads", with its measured cost); it is disabled on detach.
const PROBES = ['NodeWorker.disable', 'NodeWorker.enable', 'Runtime.callFunctionOn'];
// NodeRuntime.notifyWhenWaitingForDisconnect sets a flag in the session, once (no domain, no
// event per request): the target says when it exits, and nodetop leaves instead of holding it.
const EXIT_NOTICE = 'NodeRuntime.notifyWhenWaitingForDisconnect';

const FORBIDDEN = /^(Runtime\.enable|Debugger\.|Profiler\.|HeapProfiler\.(enable|startTrackingHeapObjects|startSampling)|Runtime\.queryObjects)/;

describe('protocol methods nodetop sends', () => {
  it('stats: exactly evaluate (identity), evaluate/callFunctionOn (probes), discardConsoleEntries', async () => {
    const t = await startTarget('idle.js', { nodeArgs: ['--inspect-port=0'] });
    try {
      const r = await runCli(['stats', String(t.pid), '--window', '100'], { env: { ...process.env, NODETOP_DEBUG: 'protocol' } });
      assert.equal(r.code, 0, r.stderr);
      const m = methods(r.stderr);
      assert.deepEqual(m, [EXIT_NOTICE, ...PROBES, 'Runtime.discardConsoleEntries', 'Runtime.evaluate'].sort());
      for (const x of m) assert.doesNotMatch(x, FORBIDDEN);
      // the sample probe is compiled once per connection, then called through its handle
      // (src/inspector/session.ts, probeHandle): the baseline and the sample both went that way
      const viaHandle = r.stderr.match(/-> Runtime\.callFunctionOn \{"functionDeclaration":"function\(a\)\{return this\(a\);\\n\/\/# sourceURL=nodetop:\/\/probe\/call\\n\}"/g) ?? [];
      assert.equal(viaHandle.length, 2, r.stderr);
    } finally {
      await t.kill();
    }
  });

  // the forced GC is a probe (src/probes/gc.ts: HeapProfiler.collectGarbage never runs in a
  // worker waiting in Atomics.wait), so the set is the same as stats'
  it('the live view, with a forced GC: the same set', { skip: haveTmux() ? false : 'tmux is not installed' }, async () => {
    const t = await startTarget('idle.js', { nodeArgs: ['--inspect-port=0'] });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-trace-'));
    const file = path.join(dir, 'trace');
    const term = openTerminal(['attach', String(t.pid), '--interval', '250'], { cols: 100, rows: 30 }, { NODETOP_DEBUG: 'protocol', NODETOP_TRACE_FILE: file });
    try {
      await term.waitFor(/Handles/);
      term.keys('g');
      await term.waitFor(/\[y\/N, a: always\]/);
      term.keys('y');
      await term.waitFor(/GC main: heap/);
      term.keys('2');
      await term.waitFor(/TYPE\s+KIND/);
      term.keys('q');
      assert.equal(await term.exitCode(), 0);
      const m = methods(fs.readFileSync(file, 'utf8'));
      assert.deepEqual(m, [EXIT_NOTICE, ...PROBES, 'Runtime.discardConsoleEntries', 'Runtime.evaluate'].sort());
      for (const x of m) assert.doesNotMatch(x, FORBIDDEN);
    } finally {
      term.close();
      fs.rmSync(dir, { recursive: true, force: true });
      await t.kill();
    }
  });
});
