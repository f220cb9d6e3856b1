// The target survives nodetop coming and going: 100 attach/sample/detach cycles in-process
// through the library (attach() + Sampler + detach(), the code `stats` runs), each one opening
// the inspector by SIGUSR1 and closing it again.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { startTarget } from '../helpers/target';
import { cycle, heapAfterGc, MiB, ports, portsSettle } from '../helpers/harm';

export const CYCLES = 100;

describe('100 attach / sample / detach cycles', () => {
  it('leave listeners, globals, symbols, handles, ports and the heap as they were', async () => {
    const t = await startTarget('idle.js', { nodeArgs: ['--inspect-port=0', '--expose-gc'] });
    try {
      const stateBefore = await t.ask('state');
      const portsBefore = ports(t.pid);
      // one cycle first, so that what V8 and Node create once per process for an inspector
      // (the agent, the command-line API's compiled code) is in the baseline, not counted as growth
      await cycle(t.pid);
      assert.deepEqual(await portsSettle(t.pid, portsBefore), portsBefore);
      const heapBefore = await heapAfterGc(t);
      let opened = 0;
      for (let i = 0; i < CYCLES; i++) {
        const s = await cycle(t.pid, 10).catch(async (e: unknown) => {
          // say how the target ended, if it did (its exit can reach this process a moment later)
          const end = await Promise.race([t.exited, new Promise((r) => setTimeout(() => r('still running'), 1000))]);
          throw new Error(`cycle ${i}: ${e instanceof Error ? e.message : String(e)}; the target: ${JSON.stringify(end)}; its stderr: ${t.stderr().slice(-800)}`);
        });
        assert.equal(s.target.pid, t.pid);
        assert.ok(s.eventLoop.windowMs !== null, `cycle ${i}: the instruments were installed`);
        if (s.target.inspector.openedByNodetop) opened++;
        // the inspector nodetop opened is closed again after each cycle
        assert.ok(t.alive(), `cycle ${i}: the target died: ${t.stderr().slice(-800)}`);
        assert.deepEqual(await portsSettle(t.pid, portsBefore), portsBefore, `cycle ${i}: the inspector port is closed again`);
      }
      assert.equal(opened, CYCLES, 'every cycle opened (and so had to close) the inspector itself');
      const heapAfter = await heapAfterGc(t);
      const stateAfter = await t.ask('state');
      assert.deepEqual(stateAfter, stateBefore);
      // Tolerance: 1 MiB over 100 cycles, i.e. under 10 KiB per cycle. A leak of one sample's
      // result per cycle (~4 KiB), or of one instrument set (a histogram, an observer, a timer
      // closure) would exceed it. Measured growth on Node 20: see README, "What we tried".
      const growth = heapAfter - heapBefore;
      process.stderr.write(`[harm] ${CYCLES} cycles: heapUsed after GC ${heapBefore} -> ${heapAfter} (${growth} bytes)\n`);
      assert.ok(growth < 1 * MiB, `heap grew by ${growth} bytes over ${CYCLES} cycles`);
      assert.ok(t.alive());
    } finally {
      await t.kill();
    }
  });
});
