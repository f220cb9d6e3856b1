// nodetop arm: a process armed at run time, with no flag and no restart, leaves a heap snapshot
// and a fatal-error report when it dies of heap exhaustion, where arm said they would be, and
// the snapshot names what filled the heap. --off restores the report settings, and says that
// the near-limit snapshot stays armed (Node allows one call).

import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { FIXTURES, NODETOP, parseJson, runCli, startTarget } from '../helpers/target';
import type { ArmResult } from '../../src/commands/arm';
import type { HeapSummaryResult } from '../../src/commands/heapsummary';
import type { NodeProcess } from '../../src/platform/ps';

describe('nodetop arm', () => {
  it('a process armed at run time leaves its snapshot and report when the heap runs out', async () => {
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-arm-cwd-'));
    const reports = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-arm-reports-'));
    const t = await startTarget('oom-leak.js', { nodeArgs: ['--max-old-space-size=48'], spawn: { cwd } });
    try {
      const r = await runCli(['arm', String(t.pid), '--oom-snapshot', '--report-on-fatal', '--dir', reports, '--json']);
      assert.equal(r.code, 0, r.stderr);
      const armed = parseJson<ArmResult>(r);
      assert.equal(armed.pid, t.pid);
      assert.equal(armed.state.oomSnapshot, 'nodetop');
      assert.equal(armed.state.reportOnFatalError, true);
      assert.equal(armed.state.reportDirectory, reports);
      assert.equal(armed.state.snapshotDirectory, fs.realpathSync(cwd));
      assert.ok(armed.snapshotCost && armed.snapshotCost.diskBytes === armed.state.heapLimitBytes);
      // the text form says where, and what it cannot undo
      const text = await runCli(['arm', String(t.pid)]);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, new RegExp(`near-limit heap snapshot: armed\\. .* into ${fs.realpathSync(cwd).replace(/[/.]/g, '\\$&')} `));
      assert.match(text.stdout, /cannot be disarmed/);
      assert.match(text.stdout, /report on a fatal error: armed, into /);

      await t.ask('leak');
      const end = await t.exited;
      assert.ok(end.signal === 'SIGABRT' || end.code === 134, JSON.stringify(end));
      const snaps = fs.readdirSync(cwd).filter((f) => /^Heap\..*\.heapsnapshot$/.test(f));
      assert.equal(snaps.length, 1, fs.readdirSync(cwd).join(' '));
      const reps = fs.readdirSync(reports).filter((f) => /^report\..*\.json$/.test(f));
      assert.equal(reps.length, 1, fs.readdirSync(reports).join(' '));
      const report = JSON.parse(fs.readFileSync(path.join(reports, reps[0]!), 'utf8')) as { header: { event: string; processId: number } };
      assert.equal(report.header.processId, t.pid);
      assert.match(report.header.event, /heap/i);
      // what filled the heap, from the snapshot: the module-level array of DoomedRecord
      const s = await runCli(['heap-summary', path.join(cwd, snaps[0]!), '--json', '--top', '5'], { hangGuardMs: 120_000 });
      assert.equal(s.code, 0, s.stderr);
      const sum = parseJson<HeapSummaryResult>(s);
      assert.deepEqual(sum.retainers[0]!.label, "Array 'doomed'", JSON.stringify(sum.retainers.slice(0, 3)));
      assert.ok(sum.groups.some((g) => g.name === 'DoomedRecord'), JSON.stringify(sum.groups));
    } finally {
      await t.kill();
      fs.rmSync(cwd, { recursive: true, force: true });
      fs.rmSync(reports, { recursive: true, force: true });
    }
  });

  it('--off restores the report settings and leaves the snapshot armed', async () => {
    const t = await startTarget('idle.js');
    try {
      assert.equal((await runCli(['arm', String(t.pid), '--oom-snapshot', '--report-on-fatal'])).code, 0);
      const off = await runCli(['arm', String(t.pid), '--off', '--json']);
      assert.equal(off.code, 0, off.stderr);
      const s = parseJson<ArmResult>(off).state;
      assert.equal(s.reportOnFatalError, false);
      assert.equal(s.reportWas, null);
      assert.equal(s.oomSnapshot, 'nodetop');
      const bad = await runCli(['arm', String(t.pid), '--off', '--oom-snapshot']);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--off cannot be given with --oom-snapshot/);
      assert.ok(t.alive());
    } finally {
      await t.kill();
    }
  });
});

describe('stats shows what is armed', () => {
  it('in the text and in --json, from the process itself', async () => {
    const t = await startTarget('idle.js');
    try {
      const before = parseJson<{ target: { armed: unknown } }>(await runCli(['stats', String(t.pid), '--json', '--window', '200']));
      assert.deepEqual(before.target.armed, { oomSnapshot: null, reportOnFatalError: false });
      assert.equal((await runCli(['arm', String(t.pid), '--oom-snapshot', '--report-on-fatal'])).code, 0);
      const after = parseJson<{ target: { armed: unknown } }>(await runCli(['stats', String(t.pid), '--json', '--window', '200']));
      assert.deepEqual(after.target.armed, { oomSnapshot: 'nodetop', reportOnFatalError: true });
      const text = await runCli(['stats', String(t.pid), '--window', '200']);
      assert.match(text.stdout, /^armed {4}a heap snapshot near the heap limit \(nodetop arm\), a report on a fatal error: written when it dies/m);
    } finally {
      await t.kill();
    }
  });
});

describe('ps shows what is armed', () => {
  it('from nodetop\'s record of its arm, as a sentence under the table and in --json; --off leaves the snapshot', async () => {
    const t = await startTarget('idle.js');
    const reports = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-arm-ps-'));
    try {
      const psOf = async (): Promise<NodeProcess> => {
        const r = await runCli(['ps', '--json', '--cpu-window', '0']);
        assert.equal(r.code, 0, r.stderr);
        const p = parseJson<NodeProcess[]>(r).find((x) => x.pid === t.pid);
        assert.ok(p, 'the target is listed');
        return p;
      };
      assert.equal((await psOf()).armed, null);
      assert.equal((await runCli(['arm', String(t.pid), '--oom-snapshot', '--report-on-fatal', '--dir', reports])).code, 0);
      const armed = (await psOf()).armed;
      assert.ok(armed);
      assert.equal(armed.reportDirectory, reports);
      assert.equal(typeof armed.oomSnapshotDirectory, 'string');
      const text = await runCli(['ps', '--cpu-window', '0']);
      assert.match(text.stdout, new RegExp(`^pid ${t.pid} is armed by nodetop arm \\(.*Z\\): a heap snapshot near the heap limit \\(into .*\\), a report on a fatal error \\(into ${reports.replace(/[/.]/g, '\\$&')}\\)$`, 'm'));
      // --off restores the report; the near-limit snapshot stays armed (Node takes it once)
      assert.equal((await runCli(['arm', String(t.pid), '--off'])).code, 0);
      const after = (await psOf()).armed;
      assert.ok(after);
      assert.equal(after.reportDirectory, null);
      assert.equal(typeof after.oomSnapshotDirectory, 'string');
    } finally {
      await t.kill();
      fs.rmSync(reports, { recursive: true, force: true });
    }
  });

  // one record directory ($TMPDIR/nodetop-<uid>) seen from two pid namespaces (a container that
  // shares the host's /tmp): a nodetop in the other one read the host's pids as gone and removed
  // their records whenever it wrote one of its own, and ps forgot what was armed
  it('a nodetop in another pid namespace sharing /tmp leaves this namespace\'s records alone', { skip: process.getuid?.() === 0 ? false : 'needs root: it makes a pid namespace (unshare)' }, async () => {
    const t = await startTarget('idle.js');
    const reports = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-arm-ns-'));
    try {
      assert.equal((await runCli(['arm', String(t.pid), '--report-on-fatal', '--dir', reports])).code, 0);
      // inside: a target of its own, armed, so that this nodetop writes a record (and prunes)
      const inside = `${JSON.stringify(process.execPath)} ${JSON.stringify(path.join(FIXTURES, 'idle.js'))} < /dev/zero > /dev/null & sleep 0.5; ` +
        `${JSON.stringify(process.execPath)} ${JSON.stringify(NODETOP)} arm $! --report-on-fatal --dir ${JSON.stringify(reports)}; echo "rc=$?"; kill $!`;
      const r = execFileSync('unshare', ['--pid', '--fork', '--mount-proc', 'sh', '-c', inside], { encoding: 'utf8', timeout: 30_000 });
      assert.match(r, /rc=0/);
      const ps = await runCli(['ps', '--json', '--cpu-window', '0']);
      const p = parseJson<NodeProcess[]>(ps).find((x) => x.pid === t.pid);
      assert.equal(p?.armed?.reportDirectory, reports, 'the host target is still armed in ps');
    } finally {
      await t.kill();
      fs.rmSync(reports, { recursive: true, force: true });
    }
  });
});
