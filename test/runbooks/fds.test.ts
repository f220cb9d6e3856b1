// Runbook 5 (docs/runbooks.md): file descriptors run out. fds.js holds 460 loopback connections
// (both ends: ~945 fds) under `prlimit --nofile=1024:1024`; the runbook's commands, read from the
// page, must show the count against the limit and warn before EMFILE: stats in words, the live
// view's header in red (over 90% of the limit, as the README documents).

import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import type { Sample } from '../../src/model/sample';
import { capture, inLiveView, runbookCommands } from '../helpers/runbook';
import { parseJson, runCli, startTarget } from '../helpers/target';
import { haveTmux } from '../helpers/tmux';

function havePrlimit(): boolean {
  try {
    execFileSync('prlimit', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('runbook 5: file descriptor exhaustion', { skip: havePrlimit() ? false : 'prlimit (util-linux) is not installed' }, () => {
  it('stats says the fds are past 90% of ulimit -n, --json has open and limit, the live view shows them in red', async () => {
    // prlimit sets the limit and execs node: the pid is the target's own
    const t = await startTarget('fds.js', {
      node: 'prlimit',
      nodeArgs: ['--nofile=1024:1024', process.execPath, '--inspect-port=0'],
      args: ['460'],
      readyTimeoutMs: 30_000,
    });
    try {
      assert.equal(t.facts.connections, 460);
      assert.equal(t.facts.errors, 0);
      const [text, json] = runbookCommands('runbook-5', { PID: t.pid });
      assert.deepEqual([text![0], json!.at(-1)], ['stats', '--json']);
      const r = await runCli(text!);
      assert.equal(r.code, 0, r.stderr);
      capture('5-stats', r.stdout);
      // 920 socket fds of its own, Node's ~25, nodetop's connection: at least 920 of 1024
      const m = /^process .* fds (\d+)\/1024 \((\d+)% of ulimit -n: EMFILE is near\)/m.exec(r.stdout);
      assert.ok(m, r.stdout);
      assert.ok(Number(m[1]) >= 920 && Number(m[1]) < 1024, m[0]);

      const s = parseJson<Sample>(await runCli(json!));
      assert.equal(s.process.fds.limit, 1024);
      assert.ok(s.process.fds.open! >= 920 && s.process.fds.open! < 1024, String(s.process.fds.open));

      if (haveTmux()) {
        await inLiveView('runbook-5-live', { PID: t.pid }, { cols: 100, rows: 30 }, async (term) => {
          const screen = await term.waitFor(/fds \d+\/1024/);
          capture('5-live', screen);
          // red (31 or 91) and bold: the "bad" level, over 90% of the limit
          const coloured = term.screenWithEscapes();
          capture('5-live-escapes', coloured);
          // eslint-disable-next-line no-control-regex -- colours are escape sequences
          assert.match(coloured, /\x1b\[(?:[0-9]+;)*(?:31|91)(?:;[0-9]+)*m(?:\x1b\[[0-9;]*m)*fds \d+\/1024/, JSON.stringify(coloured.split('\n')[1]));
        });
      }
      // and the wall is real: 100 more connections (200 fds) fail with EMFILE
      const more = await t.ask('more 100', 30_000);
      assert.ok((more.failed as number) > 0, JSON.stringify(more));
      assert.ok((more.codes as string[]).includes('EMFILE'), JSON.stringify(more));
    } finally {
      await t.kill();
    }
  });
});
