// A target under load: a bounded loopback load loop (2,000 requests, 20 at a time) while
// nodetop samples every 200 ms. Not one request may fail or get a non-200 answer.

import { strict as assert } from 'node:assert';
import * as http from 'node:http';
import { describe, it } from 'node:test';
import { Sampler } from '../../src/sampler';
import { startTarget } from '../helpers/target';
import { attachTo } from '../helpers/harm';

export const REQUESTS = 2000;
const CONCURRENCY = 20;

async function load(port: number): Promise<{ ok: number; bad: number; errors: string[] }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  let next = 0;
  let ok = 0;
  let bad = 0;
  const errors: string[] = [];
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: `/r${next}`, agent, timeout: 10_000 }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 200) ok++;
          else bad++;
          resolve();
        });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e) => {
        errors.push(e.message);
        resolve();
      });
    });
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < REQUESTS) {
        next++;
        await one();
      }
    }),
  );
  agent.destroy();
  return { ok, bad, errors };
}

describe('a target under load', () => {
  it(`${REQUESTS} requests, ${CONCURRENCY} at a time, while nodetop samples every 200 ms: zero errors`, async () => {
    const t = await startTarget('http-server.js', { nodeArgs: ['--inspect-port=0'] });
    try {
      const att = await attachTo(t.pid);
      let samples = 0;
      let sampling = true;
      const sampler = new Sampler(att);
      const loop = (async () => {
        await sampler.baseline();
        while (sampling) {
          await new Promise((r) => setTimeout(r, 200));
          const s = await sampler.sample();
          assert.equal(s.target.pid, t.pid);
          samples++;
        }
      })();
      let result: Awaited<ReturnType<typeof load>>;
      try {
        result = await load(Number(t.facts.port));
      } finally {
        sampling = false;
        await loop;
        await att.detach();
      }
      process.stderr.write(`[harm] load: ${result.ok} ok, ${result.bad} non-200, ${result.errors.length} errors, ${samples} samples\n`);
      assert.deepEqual(result.errors, []);
      assert.equal(result.bad, 0);
      assert.equal(result.ok, REQUESTS);
      assert.equal((await t.ask('served')).served, REQUESTS);
      assert.ok(samples >= 1, 'nodetop sampled during the load');
      assert.ok(t.alive());
    } finally {
      await t.kill();
    }
  });
});
