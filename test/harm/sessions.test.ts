// nodetop beside other inspector clients: a second nodetop, and a debugger that was there first.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import { Sampler } from '../../src/sampler';
import { startTarget } from '../helpers/target';
import { attachTo, ports, portsSettle } from '../helpers/harm';

/** A minimal inspector client, as a debugger would be: its own WebSocket, its own ids. */
async function rawClient(url: string): Promise<{ evaluate(expr: string): Promise<unknown>; closed(): boolean; close(): void }> {
  const ws = new WebSocket(url);
  let id = 0;
  let closed = false;
  const waiting = new Map<number, (v: unknown) => void>();
  ws.on('message', (m) => {
    const o = JSON.parse(String(m)) as { id?: number; result?: { result?: { value?: unknown } } };
    if (o.id !== undefined) waiting.get(o.id)?.(o.result?.result?.value);
  });
  ws.on('close', () => (closed = true));
  await new Promise<void>((resolve, reject) => {
    ws.on('open', () => resolve());
    ws.on('error', reject);
  });
  return {
    evaluate(expression) {
      return new Promise((resolve, reject) => {
        const i = ++id;
        const timer = setTimeout(() => reject(new Error(`no answer to ${expression}`)), 5000);
        waiting.set(i, (v) => {
          clearTimeout(timer);
          resolve(v);
        });
        ws.send(JSON.stringify({ id: i, method: 'Runtime.evaluate', params: { expression, returnByValue: true } }));
      });
    },
    closed: () => closed,
    close: () => ws.close(),
  };
}

describe('nodetop beside other inspector clients', () => {
  it('two nodetop sessions at once: both sample; the inspector closes only when the last one leaves', async () => {
    const t = await startTarget('idle.js', { nodeArgs: ['--inspect-port=0'] });
    try {
      const portsBefore = ports(t.pid);
      const first = await attachTo(t.pid);
      const second = await attachTo(t.pid);
      try {
        assert.equal(first.inspector.openedByNodetop, true);
        assert.equal(second.inspector.openedByNodetop, false, 'the second found the inspector the first opened');
        assert.equal(second.inspector.url, first.inspector.url);
        const a = new Sampler(first);
        const b = new Sampler(second);
        await a.baseline();
        await b.baseline();
        await new Promise((r) => setTimeout(r, 100));
        const [sa, sb] = [await a.sample(), await b.sample()];
        // each session has its own instruments: both measured a window
        assert.ok(sa.eventLoop.windowMs !== null && sb.eventLoop.windowMs !== null);
        assert.equal(sa.target.pid, t.pid);
        assert.equal(sb.target.pid, t.pid);

        await first.detach();
        await new Promise((r) => setTimeout(r, 400)); // longer than the 100 ms close delay
        assert.equal(ports(t.pid).length, portsBefore.length + 1, 'the inspector stays open for the second session');
        const sb2 = await b.sample();
        assert.ok(sb2.eventLoop.windowMs !== null, 'the second keeps its instruments');
        assert.ok(!second.gone);
      } finally {
        await first.detach();
        await second.detach();
      }
      // the last one out closes what the first opened
      assert.deepEqual(await portsSettle(t.pid, portsBefore), portsBefore);
      assert.ok(t.alive());
    } finally {
      await t.kill();
    }
  });

  it('back-to-back sessions: the inspector one nodetop opened is still closed by the next one out', async () => {
    const t = await startTarget('blocked.js', { nodeArgs: ['--inspect-port=0'] });
    try {
      const portsBefore = ports(t.pid);
      const first = await attachTo(t.pid);
      assert.equal(first.inspector.openedByNodetop, true);
      // The first leaves while the target's loop spins for 5 s: its uninstall is served (the
      // inspector answers between two instructions) and schedules the close on a timer, which
      // cannot run until the spin ends. Another nodetop attaches in that window, straight to the
      // WebSocket: it finds the inspector open and did not open it itself. (Attaching in the
      // timer's 100 ms on an idle target lost the race on a loaded CI machine: the close came
      // between the second's connect and its install.)
      await t.ask('block 5000');
      const leaving = first.detach();
      const second = await attachTo(t.pid, { endpoint: first.inspector.url });
      await leaving; // the inspector stayed open for the second: the first gave up waiting for the close
      try {
        assert.equal(second.inspector.openedByNodetop, false, 'the second found the inspector still open');
        // the spin is over when the target answers its stdin; then the first's deferred close
        // comes and goes while the second is installed
        assert.equal((await t.ask('nodetop', 20_000)).sessions, 1);
        await new Promise((r) => setTimeout(r, 400));
        assert.equal(ports(t.pid).length, portsBefore.length + 1, 'the second session keeps the inspector');
        await new Sampler(second).sample();
      } finally {
        await second.detach();
      }
      assert.deepEqual(await portsSettle(t.pid, portsBefore), portsBefore, 'an inspector nodetop opened is never left open');
    } finally {
      await t.kill();
    }
  });

  it('a debugger that connects to the inspector nodetop opened is not cut off when nodetop leaves', async () => {
    const t = await startTarget('idle.js', { nodeArgs: ['--inspect-port=0'] });
    try {
      const portsBefore = ports(t.pid);
      const symbolsBefore = (await t.ask('state')).symbols;
      const att = await attachTo(t.pid);
      let dbg: Awaited<ReturnType<typeof rawClient>> | null = null;
      try {
        assert.equal(att.inspector.openedByNodetop, true);
        dbg = await rawClient(att.inspector.url);
        assert.equal(await dbg.evaluate('6 * 7'), 42);
        assert.equal(att.otherClients(), 1, 'nodetop sees the debugger among the inspector’s clients');
      } finally {
        await att.detach();
      }
      try {
        await new Promise((r) => setTimeout(r, 400)); // longer than the 100 ms close delay
        assert.equal(dbg.closed(), false, 'the debugger was not disconnected');
        assert.equal(await dbg.evaluate('process.pid'), t.pid);
        assert.equal(ports(t.pid).length, portsBefore.length + 1, 'the inspector stays open while it is in use');
        assert.deepEqual((await t.ask('state')).symbols, symbolsBefore, 'nodetop’s instruments are gone all the same');
      } finally {
        dbg.close();
      }
      assert.ok(t.alive());
    } finally {
      await t.kill();
    }
  });

  it('beside a debugger that was attached first: both keep working, and nodetop leaves its inspector open', async () => {
    const t = await startTarget('idle.js', { nodeArgs: ['--inspect=127.0.0.1:0'] });
    try {
      const url = /ws:\/\/\S+/.exec(t.stderr())?.[0];
      assert.ok(url, t.stderr());
      const portsBefore = ports(t.pid);
      assert.equal(portsBefore.length, 1);
      const dbg = await rawClient(url);
      try {
        assert.equal(await dbg.evaluate('6 * 7'), 42);
        const att = await attachTo(t.pid);
        try {
          assert.equal(att.inspector.openedByNodetop, false);
          const s = new Sampler(att);
          await s.baseline();
          assert.equal(await dbg.evaluate('process.pid'), t.pid, 'the debugger works while nodetop is attached');
          const sample = await s.sample();
          assert.equal(sample.target.pid, t.pid);
        } finally {
          await att.detach();
        }
        await new Promise((r) => setTimeout(r, 400));
        assert.equal(dbg.closed(), false, 'nodetop did not disconnect the debugger');
        assert.equal(await dbg.evaluate('1 + 1'), 2, 'the debugger still works after nodetop left');
        assert.deepEqual(ports(t.pid), portsBefore, 'nodetop never closes an inspector it did not open');
      } finally {
        dbg.close();
      }
      assert.ok(t.alive());
    } finally {
      await t.kill();
    }
  });
});
