// Runbook 4 (docs/runbooks.md): a connection pool too small or leaking. Two incidents, one page
// of commands: tls-overpool.js (6 TLS connections to one remote behind a pool of maxSockets 2:
// two SNI names split the agent's pool, an agent:false request, a bare tls.connect) and
// pool-queue.js (maxSockets 2, 5 requests: 3 queued). The runbook's commands, read from the page,
// must say why there are more connections than the pool size, and where requests wait.

import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Sample } from '../../src/model/sample';
import { capture, inLiveView, runbookCommands } from '../helpers/runbook';
import { parseJson, runCli, startTarget } from '../helpers/target';
import { haveTmux } from '../helpers/tmux';

describe('runbook 4: a connection pool too small or leaking', () => {
  let certDir = '';
  before(() => {
    certDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-runbook4-'));
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', path.join(certDir, 'k'), '-out', path.join(certDir, 'c')],
      { stdio: 'ignore' },
    );
  });
  after(() => fs.rmSync(certDir, { recursive: true, force: true }));

  it('more TLS connections than the pool size: stats names the pools, the origin keys and the sockets no pool owns', async () => {
    const t = await startTarget('tls-overpool.js', { args: [certDir], nodeArgs: ['--inspect-port=0'] });
    try {
      const port = t.facts.port as number;
      const [text, json] = runbookCommands('runbook-4', { PID: t.pid });
      assert.deepEqual([text![0], json!.at(-1)], ['stats', '--json']);
      const r = await runCli(text!);
      assert.equal(r.code, 0, r.stderr);
      capture('4-overpool', r.stdout);
      // 6 client TLS connections to one remote, pool size 2
      assert.match(r.stdout, new RegExp(`^ {2}127\\.0\\.0\\.1:${port} +out +6 +6 +0 .*https\\.Agent#1 4, https\\.Agent#2 1, \\(no pool\\) 1$`, 'm'));
      assert.match(r.stdout, /^ {2}https\.Agent#1 {2}maxSockets 2 /m);
      assert.match(r.stdout, /^findings\n.*6 client connections \(6 TLS\).*2 pools connect to it.*1 belong to no pool.*https\.Agent#1 has 2 origin keys for it/m);

      const s = parseJson<Sample>(await runCli(json!));
      const agent = s.httpPools!.find((p) => p.maxSockets === 2)!;
      assert.ok(agent, JSON.stringify(s.httpPools));
      assert.equal(agent.origins.length, 2, 'one origin key per SNI name');
      assert.deepEqual(agent.totals, { inUse: 4, free: 0, queued: 0 });
      const out = s.sockets!.groups.find((g) => g.direction === 'client' && g.endpoint === `127.0.0.1:${port}`)!;
      assert.equal(out.count, t.facts.clientTls);
      assert.equal(out.byPool['(no pool)'], 1);
    } finally {
      await t.kill();
    }
  });

  it('requests queued behind a pool of 2: stats and the Pools page (key 5) show 2 in use and 3 queued', async () => {
    const t = await startTarget('pool-queue.js', { nodeArgs: ['--inspect-port=0'] });
    try {
      const port = t.facts.port as number;
      const [text, json] = runbookCommands('runbook-4', { PID: t.pid });
      const r = await runCli(text!);
      assert.equal(r.code, 0, r.stderr);
      capture('4-queue', r.stdout);
      assert.match(r.stdout, new RegExp(`^ {4}127\\.0\\.0\\.1:${port} +in use +2 +free +0 +queued +3 +max 2$`, 'm'));
      assert.match(r.stdout, /^findings\n(.*\n)*.*3 requests? queued/m);
      const s = parseJson<Sample>(await runCli(json!));
      const agent = s.httpPools!.find((p) => p.maxSockets === 2)!;
      assert.deepEqual(agent.totals, { inUse: t.facts.inUse, free: 0, queued: t.facts.queued });

      if (haveTmux()) {
        await inLiveView('runbook-4-live', { PID: t.pid }, { cols: 120, rows: 30 }, async (term) => {
          await term.waitFor(/Handles/);
          term.keys('5');
          const screen = await term.waitFor(new RegExp(`POOL\\s+ORIGIN\\s+IN USE[\\s\\S]*http\\.Agent#\\d+ +127\\.0\\.0\\.1:${port} +2 +0 +3 +2`));
          capture('4-live', screen);
        });
      }
      assert.ok(t.alive());
    } finally {
      await t.kill();
    }
  });
});
