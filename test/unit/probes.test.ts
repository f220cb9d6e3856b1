// The probes called in-process (probe.ts: they are plain functions), on this Node with one of
// the APIs an older or future Node lacks taken away for the duration of the test: that part of
// the sample is null with the reason, and the rest is read. The same path on a real old binary
// (Node 14) is in test/matrix/cli.test.ts.

import { strict as assert } from 'node:assert';
import * as perf from 'node:perf_hooks';
import { describe, it } from 'node:test';
import { buildSample } from '../../src/model/sample';
import { renderStats } from '../../src/sinks/text';
import { installProbe } from '../../src/probes/install';
import { sampleProbe, type RawLight } from '../../src/probes/sample';
import { checkLight, checkRaw, fillLight } from '../../src/sampler';
import { ExitCode, type NodetopError } from '../../src/errors';
import { uninstallProbe } from '../../src/probes/uninstall';
import { closeInspectorProbe } from '../../src/probes/closeInspector';

const identity = {
  pid: process.pid, ppid: process.ppid, title: 'node', argv: process.argv, execPath: process.execPath,
  nodeVersion: process.version, v8Version: process.versions.v8, uptimeSec: 1, platform: 'linux', inspectorUrl: null, isMainThread: true, threadId: 0,
};

/** Removes obj[key] for the duration of fn, whatever fn does. */
function without<T extends object>(obj: T, key: string, fn: () => void): void {
  const d = Object.getOwnPropertyDescriptor(obj, key);
  assert.ok(d, `${key} exists on this Node`);
  delete (obj as Record<string, unknown>)[key];
  try {
    fn();
  } finally {
    Object.defineProperty(obj, key, d);
  }
}

function session<R>(key: string, fn: () => R): R {
  const r = installProbe.fn({ key, leaseMs: 60_000, openedByNodetop: false, resolutionMs: 10 }) as { installed: boolean };
  assert.equal(r.installed, true);
  try {
    return fn();
  } finally {
    void uninstallProbe.fn({ key, closeInspectorAfterMs: null });
  }
}

describe('a part of the sample this Node lacks', () => {
  it('everything is available on this Node', () => {
    session('u0', () => {
      const raw = sampleProbe.fn({ key: 'u0', blockedAfterMs: 60_000, fds: false }) as ReturnType<typeof sampleProbe.fn> & object;
      const s = buildSample({ identity, inspector: { url: 'ws://x', openedByNodetop: false }, prev: null, raw: raw as never, proc: null, host: null });
      assert.deepEqual(s.unavailable, {});
      assert.ok(s.handles && s.requests && s.gc && s.eventLoop.lagMs !== undefined);
    });
  });

  it('no process.getActiveResourcesInfo: handles null with the reason, not 0; the rest is read', () => {
    session('u1', () => {
      without(process, 'getActiveResourcesInfo', () => {
        const raw = sampleProbe.fn({ key: 'u1', blockedAfterMs: 60_000, fds: false }) as never;
        const s = buildSample({ identity, inspector: { url: 'ws://x', openedByNodetop: false }, prev: null, raw, proc: null, host: null });
        assert.equal(s.handles, null);
        assert.deepEqual(Object.keys(s.unavailable), ['handles']);
        assert.match(s.unavailable.handles!, /process\.getActiveResourcesInfo\(\) is missing: added in Node 17\.3 and 16\.14/);
        assert.ok(s.requests, 'requests are still read');
        assert.ok(s.memory.heapUsedBytes! > 0);
        assert.equal(typeof s.eventLoop.utilization, 'number');
        assert.match(renderStats(s), /^handles {2}n\/a \(process\.getActiveResourcesInfo\(\) is missing/m);
      });
    });
  });

  it('no performance.eventLoopUtilization: utilization null with the reason; GC and handles still read', () => {
    // (perf_hooks' own exports, monitorEventLoopDelay among them, cannot be taken away in-process)
    session('u2', () => {
      const owner = Object.prototype.hasOwnProperty.call(perf.performance, 'eventLoopUtilization')
        ? perf.performance
        : (Object.getPrototypeOf(perf.performance) as object);
      without(owner, 'eventLoopUtilization', () => {
        const raw = sampleProbe.fn({ key: 'u2', blockedAfterMs: 60_000, fds: false }) as never;
        const s = buildSample({ identity, inspector: { url: 'ws://x', openedByNodetop: false }, prev: null, raw, proc: null, host: null });
        assert.equal(s.eventLoop.utilization, null);
        assert.deepEqual(Object.keys(s.unavailable), ['eventLoop.utilization']);
        assert.match(s.unavailable['eventLoop.utilization'] ?? '', /performance\.eventLoopUtilization\(\) is missing/);
        assert.ok(s.gc, 'the GC observer is still installed');
        assert.ok(s.handles);
        assert.match(renderStats(s), /^n\/a {6}eventLoop\.utilization: /m);
      });
    });
  });
});

describe('a light reading (the recorder’s, between full ones)', () => {
  it('comes back flat, and is made whole from the full reading before it', () => {
    session('l1', () => {
      const arg = { key: 'l1', blockedAfterMs: 60_000, fds: false, recorded: true };
      const w0 = process.hrtime.bigint();
      const full = sampleProbe.fn(arg);
      const wall = Number(process.hrtime.bigint() - w0) / 1e6;
      checkRaw(full, process.pid);
      // a full reading times itself: some time, within the call's
      assert.ok(full.spentMs !== undefined && full.spentMs > 0 && full.spentMs <= wall, `spent ${full.spentMs} of ${wall} ms`);
      const held = new Array(512 * 1024).fill(0).map((_, i) => ({ i })); // ~16 MiB of small objects, held below
      const got = sampleProbe.fn({ ...arg, light: true }) as unknown as RawLight;
      assert.equal(got.light, true);
      assert.equal('memory' in got, false, 'flat: no nested memory object');
      assert.equal(got.rss, -1, 'the RSS is nodetop’s to read (fds: false)');
      assert.equal('spentMs' in got, false, 'the recorder times its light readings itself');
      checkLight(got, process.pid);
      assert.throws(() => checkLight(got, process.pid + 1), (e: NodetopError) => e.exitCode === ExitCode.WrongProcess);
      assert.throws(() => checkLight({ ...got, heapUsed: 'x' } as never, process.pid), (e: NodetopError) => e.exitCode === ExitCode.EndpointFailed);

      const whole = fillLight(got, full, null);
      assert.ok(whole.memory.heapUsed >= full.memory.heapUsed + 8 * 2 ** 20, `heap ${full.memory.heapUsed} -> ${whole.memory.heapUsed}`);
      assert.equal(whole.memory.rss, full.memory.rss, 'no read of nodetop’s: the full reading’s RSS');
      assert.equal(fillLight(got, full, 123_456_789).memory.rss, 123_456_789);
      assert.equal(whole.memory.arrayBuffers, full.memory.arrayBuffers);
      assert.deepEqual([whole.handles, whole.requests, whole.spaces, whole.fds], [full.handles, full.requests, full.spaces, full.fds]);
      assert.deepEqual(whole.cpuUsageMicros, { user: got.cpuUser, system: got.cpuSystem });
      assert.ok(whole.cpuUsageMicros.user >= full.cpuUsageMicros.user);
      // the process started when the full reading says it did, whatever time the light one was taken
      const started = (r: { timeMs: number; uptimeSec: number }): number => r.timeMs - r.uptimeSec * 1000;
      assert.ok(Math.abs(started(whole) - started(full)) < 1, `started ${started(whole)} against ${started(full)}`);
      assert.ok(whole.timeMs >= full.timeMs);
      assert.equal(whole.window, got.window);
      assert.ok(whole.window && whole.window.elu && whole.window.gc, 'the loop and GC window of its own');
      const s = buildSample({ identity, inspector: { url: 'ws://x', openedByNodetop: false }, prev: full, raw: whole, proc: null, host: null });
      assert.deepEqual(s.unavailable, {});
      assert.equal(s.memory.heapUsedBytes, got.heapUsed);
      assert.equal(held.length, 512 * 1024);
    });
  });

  it('a part this Node lacks is named in a light reading too', () => {
    session('l2', () => {
      const owner = Object.prototype.hasOwnProperty.call(perf.performance, 'eventLoopUtilization')
        ? perf.performance
        : (Object.getPrototypeOf(perf.performance) as object);
      const arg = { key: 'l2', blockedAfterMs: 60_000, fds: true, recorded: true };
      const full = sampleProbe.fn(arg);
      checkRaw(full, process.pid);
      without(owner, 'eventLoopUtilization', () => {
        const got = sampleProbe.fn({ ...arg, light: true }) as unknown as RawLight;
        assert.ok(got.rss > 0, 'fds: true, the target reads its own RSS');
        const s = buildSample({ identity, inspector: { url: 'ws://x', openedByNodetop: false }, prev: full, raw: fillLight(got, full, null), proc: null, host: null });
        assert.equal(s.eventLoop.utilization, null);
        assert.deepEqual(Object.keys(s.unavailable), ['eventLoop.utilization']);
      });
    });
  });
});

describe('the close-inspector probe (the watchdog’s)', () => {
  it('in a process other than the pid it was sent for, it does nothing: no timer, no close, no registry touched', () => {
    // a port found in a container's table and reached on the host is another process's inspector
    const before = process.getActiveResourcesInfo().slice().sort();
    const reg = { openedByNodetop: false, sessions: { k: {} }, remove: (): void => assert.fail('removed a session of another process') };
    const g = globalThis as unknown as Record<symbol, unknown>;
    g[Symbol.for('nodetop')] = reg;
    try {
      const r = closeInspectorProbe.fn({ deadKey: 'k', afterMs: 10, pid: process.pid + 1, pidNs: null });
      assert.deepEqual(r, { pid: process.pid, closing: false, sessions: 0, other: true });
      assert.equal(reg.openedByNodetop, false);
      // the same pid in another pid namespace (every container's main process is pid 1)
      const ns = closeInspectorProbe.fn({ deadKey: 'k', afterMs: 10, pid: process.pid, pidNs: 'pid:[1]' });
      assert.deepEqual(ns, { pid: process.pid, closing: false, sessions: 0, other: true });
      assert.equal(reg.openedByNodetop, false);
      assert.deepEqual(process.getActiveResourcesInfo().slice().sort(), before, 'no timer was set');
    } finally {
      delete g[Symbol.for('nodetop')];
    }
  });
});
