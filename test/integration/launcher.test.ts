// bin/nodetop, the launcher that `nodetop`, `npx nodetop` and npm's bin links run: it finds
// bin/nodetop.js through the link and starts it without NODE_EXTRA_CA_CERTS (nodetop makes no TLS
// connection; Node 18 and 20 load that file as they start, and warn on stderr when it is missing).

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { parseJson, ROOT, runCli, startTarget } from '../helpers/target';

const NODE_MAJOR = Number(process.versions.node.split('.')[0]);

describe('the launcher (bin/nodetop)', () => {
  it('runs through an npm-style link, with node from PATH, and drops NODE_EXTRA_CA_CERTS unless a wss:// endpoint is named', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-launcher-'));
    const t = await startTarget('idle.js', { nodeArgs: ['--inspect=127.0.0.1:0'] });
    try {
      // what npm makes of package.json's "bin": node_modules/.bin/nodetop -> ../nodetop/bin/nodetop
      fs.mkdirSync(path.join(dir, '.bin'));
      const link = path.join(dir, '.bin', 'nodetop');
      fs.symlinkSync(path.relative(path.join(dir, '.bin'), path.join(ROOT, 'bin', 'nodetop')), link);
      const missing = path.join(dir, 'no-such-ca.pem');
      const env = { ...process.env, NODE_EXTRA_CA_CERTS: missing, PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}` };

      const r = await runCli(['stats', String(t.pid), '--json', '--window', '100'], { program: link, env });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(parseJson<{ target: { pid: number } }>(r).target.pid, t.pid);
      assert.equal(r.stderr, '', 'nothing on stderr: Node never saw the missing CA file');

      // the same environment without the launcher: Node 18-20 read the file at start-up and say so
      // (Node 22 and later read it only for a TLS connection, which nodetop never makes)
      const direct = await runCli(['--version'], { env });
      assert.equal(direct.code, 0, direct.stderr);
      if (NODE_MAJOR < 22) assert.match(direct.stderr, /Ignoring extra certs from .*no-such-ca\.pem/);
      else assert.equal(direct.stderr, '');

      // a wss:// endpoint is nodetop's one TLS connection: its CA may be the one the variable
      // names, so the launcher leaves it (Node 18-20 then say they read it; nothing listens there)
      const wss = await runCli(['stats', '--endpoint', 'wss://127.0.0.1:9/x'], { program: link, env });
      assert.equal(wss.code, 7, wss.stderr);
      if (NODE_MAJOR < 22) assert.match(wss.stderr, /Ignoring extra certs from .*no-such-ca\.pem/);
    } finally {
      await t.kill();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('starts the live view (attach, demo, the overview) with V8 sized for a long session, and other commands without', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-launcher-'));
    try {
      // the node the launcher started says what it was started with, before nodetop runs
      const hook = path.join(dir, 'hook.js');
      fs.writeFileSync(hook, "require('fs').appendFileSync(process.env.FLAGS_OUT, JSON.stringify(process.execArgv) + '\\n');\n");
      const out = path.join(dir, 'flags');
      const env = { ...process.env, NODE_OPTIONS: `--require ${hook}`, FLAGS_OUT: out, PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}` };
      const flags = async (args: string[]): Promise<string[]> => {
        fs.rmSync(out, { force: true });
        // off a terminal the live view refuses to start (exit 2): the flags are seen by then
        await runCli(args, { program: path.join(ROOT, 'bin', 'nodetop'), env });
        return JSON.parse(fs.readFileSync(out, 'utf8').split('\n')[0]!) as string[];
      };
      for (const args of [['attach', '1'], ['demo'], []]) {
        const f = await flags(args);
        assert.ok(f.includes('--v8-pool-size=1'), `${args.join(' ') || '(no arguments)'}: ${f.join(' ')}`);
        assert.ok(f.some((x) => /^--max-semi-space-size=\d+$/.test(x)), `${args.join(' ') || '(no arguments)'}: ${f.join(' ')}`);
      }
      for (const args of [['stats', '1'], ['--version'], ['heap-summary', 'x.heapsnapshot']]) assert.deepEqual(await flags(args), [], args.join(' '));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
