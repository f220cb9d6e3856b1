// An inspector exposed to the network is said out loud (issue 20 §7): a target started with
// --inspect=0.0.0.0:0 answers nodetop on 127.0.0.1 like any other; the kernel's socket table
// says every interface reaches it, and stats (text and JSON), watch, ps, export and the live
// view's header say that anyone who reaches it can run code in the process.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { exposedAddresses, isLoopbackAddress } from '../../src/loopback';
import { listeningSockets } from '../../src/platform/proc';
import { startExporter } from '../helpers/exporter';
import { parseJson, runCli, startTarget, type Target } from '../helpers/target';
import { haveTmux, openTerminal } from '../helpers/tmux';

interface StatsJson {
  target: { inspector: { url: string; exposedOn: string[] | null } };
}

async function withTarget(inspect: string, fn: (t: Target, port: number) => Promise<void>): Promise<void> {
  const t = await startTarget('idle.js', { nodeArgs: [`--inspect=${inspect}`] });
  try {
    const port = listeningSockets(t.pid)[0]?.port;
    assert.ok(port, 'the target listens');
    await fn(t, port);
  } finally {
    await t.kill();
  }
}

const WARNING = /WARNING: the inspector of pid (\d+) listens on 0\.0\.0\.0:(\d+) \(not only loopback\): anyone who can reach it can run code in that process/;

describe('an inspector exposed to the network', () => {
  it('the addresses: loopback is 127/8, ::1 and mapped 127/8; wildcards and the rest are exposed', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) assert.ok(isLoopbackAddress(a), a);
    for (const a of ['0.0.0.0', '::', '10.0.0.5', '::ffff:10.0.0.5', '192.0.2.2', 'fe80::1']) assert.ok(!isLoopbackAddress(a), a);
    const socks = [
      { address: '127.0.0.1', port: 9229 },
      { address: '::', port: 9229 },
      { address: '0.0.0.0', port: 9229 },
      { address: '0.0.0.0', port: 80 },
    ];
    assert.deepEqual(exposedAddresses(socks, 9229), ['0.0.0.0:9229', '[::]:9229']);
    assert.deepEqual(exposedAddresses(socks.slice(0, 1), 9229), []);
  });

  it('stats (text and JSON) and watch say so for --inspect=0.0.0.0', async () => {
    await withTarget('0.0.0.0:0', async (t, port) => {
      const json = await runCli(['stats', String(t.pid), '--json', '--window', '100']);
      assert.equal(json.code, 0, json.stderr);
      const s = parseJson<StatsJson>(json);
      assert.deepEqual(s.target.inspector.exposedOn, [`0.0.0.0:${port}`]);
      assert.match(s.target.inspector.url, /^ws:\/\/127\.0\.0\.1:/, 'nodetop itself went through loopback');

      const text = await runCli(['stats', String(t.pid), '--window', '100']);
      assert.equal(text.code, 0, text.stderr);
      const m = WARNING.exec(text.stdout);
      assert.ok(m, text.stdout);
      assert.equal(Number(m[1]), t.pid);
      assert.equal(Number(m[2]), port);

      const w = await runCli(['watch', String(t.pid), '--count', '1', '--interval', '100ms']);
      assert.equal(w.code, 0, w.stderr);
      assert.match(w.stderr, WARNING);
    });
  });

  it('ps says so (a column and a sentence), and the JSON names the addresses', async () => {
    await withTarget('0.0.0.0:0', async (t, port) => {
      const r = await runCli(['ps']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^\\s*${t.pid}\\s.*${port} \\(likely\\) EXPOSED`, 'm'));
      assert.match(r.stdout, new RegExp(`WARNING: the inspector of pid ${t.pid} listens on 0\\.0\\.0\\.0:${port}`));
      const j = await runCli(['ps', '--json']);
      const mine = (JSON.parse(j.stdout) as Array<{ pid: number; inspector: { exposed: string[] } }>).find((p) => p.pid === t.pid);
      assert.deepEqual(mine?.inspector.exposed, [`0.0.0.0:${port}`]);
    });
  });

  it('export says so on its start-up line', async () => {
    await withTarget('0.0.0.0:0', async (t) => {
      const ex = await startExporter([String(t.pid), '--interval', '200ms']);
      try {
        assert.match(ex.stderr(), WARNING);
      } finally {
        await ex.stop();
      }
    });
  });

  it('the live view says so in its header', { skip: haveTmux() ? false : 'tmux is not installed' }, async () => {
    await withTarget('0.0.0.0:0', async (t) => {
      const term = openTerminal(['attach', String(t.pid), '--interval', '500'], { cols: 200, rows: 30 });
      try {
        const s = await term.waitFor(/WARNING: the inspector/);
        assert.match(s.split('\n')[1] ?? '', WARNING, 'the second line of the screen');
        term.keys('q');
        await term.exitCode();
      } finally {
        term.close();
      }
    });
  });

  it('a loopback inspector gets no warning: exposedOn is []', async () => {
    await withTarget('127.0.0.1:0', async (t) => {
      const json = await runCli(['stats', String(t.pid), '--json', '--window', '100']);
      assert.equal(json.code, 0, json.stderr);
      assert.deepEqual(parseJson<StatsJson>(json).target.inspector.exposedOn, []);
      const text = await runCli(['stats', String(t.pid), '--window', '100']);
      assert.doesNotMatch(text.stdout, /WARNING/);
      const ps = await runCli(['ps']);
      assert.doesNotMatch(ps.stdout, /EXPOSED|WARNING/);
    });
  });
});
