// A debugger connected beside nodetop saw nodetop's probes as anonymous scripts (could be
// anyone's code): each is now named nodetop://probe/<name>. A raw inspector client with the
// Debugger domain enabled, as a debugger would be, records every script parsed while nodetop runs
// `stats` (main thread and a worker) and `gc`.

import { strict as assert } from 'node:assert';
import * as http from 'node:http';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import { runCli, startTarget } from '../helpers/target';

function wsUrl(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/json/list' }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve((JSON.parse(body) as Array<{ webSocketDebuggerUrl: string }>)[0]!.webSocketDebuggerUrl));
      })
      .on('error', reject);
  });
}

describe('probe names seen by a debugger beside nodetop', () => {
  it('every script nodetop makes the target compile is named nodetop://probe/<name>', async () => {
    const t = await startTarget('inspected.js', { nodeArgs: ['--inspect=127.0.0.1:0'] });
    const ws = new WebSocket(await wsUrl(t.facts.inspectorPort as number));
    try {
      await new Promise<void>((resolve, reject) => {
        ws.on('open', () => resolve());
        ws.on('error', reject);
      });
      const scripts: string[] = [];
      let enabled = false;
      ws.on('message', (m) => {
        const o = JSON.parse(String(m)) as { id?: number; method?: string; params?: { url?: string } };
        if (o.id === 1) enabled = true;
        else if (enabled && o.method === 'Debugger.scriptParsed') scripts.push(o.params?.url ?? '');
      });
      ws.send(JSON.stringify({ id: 1, method: 'Debugger.enable', params: {} }));
      while (!enabled) await new Promise((r) => setTimeout(r, 10));
      const s = await runCli(['stats', String(t.pid), '--json', '--window', '100']);
      assert.equal(s.code, 0, s.stderr);
      const g = await runCli(['gc', String(t.pid), '--json']);
      assert.equal(g.code, 0, g.stderr);
      await new Promise((r) => setTimeout(r, 200));
      const ours = scripts.filter((u) => u.startsWith('nodetop://probe/'));
      assert.ok(ours.length > 0, JSON.stringify(scripts));
      for (const name of ['identity', 'install', 'gc', 'memory']) assert.ok(ours.some((u) => u.includes(name)), `${name}: ${JSON.stringify(ours)}`);
      // nothing anonymous: the target itself compiles nothing while it idles
      assert.deepEqual(scripts.filter((u) => u === ''), [], JSON.stringify(scripts));
    } finally {
      ws.close();
      await t.kill();
    }
  });
});
