// Terminal escapes from a target or a file never reach nodetop's output (issue 20 §6). The
// fixture (test/fixtures/hostile-text.js) puts a screen clear, an OSC 52 clipboard write, the
// 8-bit CSI, bidi overrides and marks in its title, argv, handle and request names, a worker's
// name, a class name (heap snapshots) and an Error message; each command's output bytes are read.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import { startExporter } from '../helpers/exporter';
import { runCli, startTarget, type CliResult, type Target } from '../helpers/target';
import { haveTmux, openTerminal } from '../helpers/tmux';

const EVIL = 'x\x1b[2J\x1b]52;c;aGFja2Vk\x07\u009b31m\u202eLIVE\u2066\u200fx';

/** Any control but a newline, any C1 control, any invisible format character or separator. */
const UNSAFE = /(?!\n)[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

function assertClean(text: string, what: string): void {
  const m = UNSAFE.exec(text);
  assert.ok(!m, `${what}: U+${m?.[0].codePointAt(0)?.toString(16).padStart(4, '0')} reached the output at ${m?.index}: ${JSON.stringify(text.slice(Math.max(0, (m?.index ?? 0) - 40), (m?.index ?? 0) + 40))}`);
}

function clean(r: CliResult, what: string): void {
  assertClean(r.stdout, `${what} stdout`);
  assertClean(r.stderr, `${what} stderr`);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-escapes-'));
const targets: Target[] = [];
after(() => fs.rmSync(dir, { recursive: true, force: true }));
// one target per test, killed after it: each test opens its inspector afresh
afterEach(async () => {
  for (const t of targets.splice(0)) await t.kill();
});

async function hostile(args: string[] = []): Promise<Target> {
  const t = await startTarget('hostile-text.js', { args: [EVIL, ...args] });
  targets.push(t);
  return t;
}

describe('terminal escapes from a target or a file', () => {
  it('stats, text and --json: the title, argv, handle, request and worker names are printed without their escapes', async () => {
    const t = await hostile();
    const text = await runCli(['stats', String(t.pid), '--window', '200']);
    assert.equal(text.code, 0, text.stderr);
    clean(text, 'stats');
    assert.match(text.stdout, /LIVE/, 'the title is shown');
    const json = await runCli(['stats', String(t.pid), '--window', '200', '--json']);
    assert.equal(json.code, 0, json.stderr);
    clean(json, 'stats --json');
    // JSON loses nothing: the escaped characters are the same string
    const s = JSON.parse(json.stdout) as { target: { title: string }; handles: { byType: Record<string, number> }; requests: { byType: Record<string, number> } };
    assert.equal(s.target.title, EVIL);
    assert.equal(s.handles.byType[`${EVIL}h`], 1);
    assert.equal(s.requests.byType[EVIL], 1);
  });

  it('watch, lines and NDJSON', async () => {
    const t = await hostile();
    for (const extra of [[], ['--json']]) {
      const r = await runCli(['watch', String(t.pid), '--count', '2', '--interval', '200ms', ...extra]);
      assert.equal(r.code, 0, r.stderr);
      clean(r, `watch ${extra.join(' ')}`);
    }
  });

  it('ps, text and --json: argv from /proc', async () => {
    const t = await hostile();
    const r = await runCli(['ps']);
    assert.equal(r.code, 0, r.stderr);
    clean(r, 'ps');
    assert.match(r.stdout, new RegExp(`^\\s*${t.pid}\\s.*LIVE`, 'm'));
    const j = await runCli(['ps', '--json']);
    assert.equal(j.code, 0, j.stderr);
    clean(j, 'ps --json');
    const mine = (JSON.parse(j.stdout) as Array<{ pid: number; argv: string[] }>).find((p) => p.pid === t.pid);
    assert.ok(mine?.argv.join(' ').includes(EVIL), 'JSON keeps the argv as it is');
  });

  it('an Error thrown in the target, quoted in the error message', async () => {
    const t = await hostile(['--throw']);
    const r = await runCli(['stats', String(t.pid), '--window', '200', '--timeout', '3000']);
    assert.notEqual(r.code, 0, r.stderr);
    clean(r, 'stats of a target whose process.title throws');
    assert.match(r.stderr, /^nodetop: .*LIVE/m, 'the message is quoted');
  });

  it('gc --all-threads: the worker name', async () => {
    const t = await hostile();
    const r = await runCli(['gc', String(t.pid), '--all-threads']);
    assert.equal(r.code, 0, r.stderr);
    clean(r, 'gc');
  });

  it('export: the start-up line and the metrics', async () => {
    const t = await hostile();
    const ex = await startExporter([String(t.pid), '--interval', '200ms']);
    try {
      let body = '';
      for (let i = 0; i < 50 && !body.includes('LIVE'); i++) {
        await new Promise((r) => setTimeout(r, 100));
        body = (await ex.scrape()).body;
      }
      assert.match(body, /="[^"]*LIVE/); // a handle type as a label value
      assertClean(body, '/metrics');
      assertClean(ex.stderr(), 'export stderr');
      assert.match(ex.stderr(), /sampling pid \d+ \(.*LIVE/);
    } finally {
      await ex.stop();
    }
  });

  it('heap-diff: constructor names from a snapshot file, text and --json', async () => {
    const t = await hostile();
    const a = path.join(dir, 'a.heapsnapshot');
    const b = path.join(dir, 'b.heapsnapshot');
    await t.ask(`snap ${a}`, 30_000);
    await t.ask(`snap ${b}`, 30_000);
    const r = await runCli(['heap-diff', a, b, '--top', '1000']);
    assert.equal(r.code, 0, r.stderr);
    clean(r, 'heap-diff');
    assert.match(r.stdout, /LIVE/, 'the class is listed');
    const j = await runCli(['heap-diff', a, b, '--top', '1000', '--json']);
    assert.equal(j.code, 0, j.stderr);
    clean(j, 'heap-diff --json');
    assert.ok((JSON.parse(j.stdout) as { top: Array<{ name: string }> }).top.some((x) => x.name === EVIL));
  });

  it('the live view: the bytes sent to the terminal', { skip: haveTmux() ? false : 'tmux is not installed' }, async () => {
    const t = await hostile();
    const term = openTerminal(['attach', String(t.pid), '--interval', '300'], { cols: 160, rows: 40 });
    try {
      await term.waitFor(/LIVE/);
      term.keys('4'); // the workers page: the worker's name
      await term.waitFor(/LIVE[\s\S]*LIVE/);
      await new Promise((r) => setTimeout(r, 700));
      const raw = term.raw().toString('utf8');
      // the view draws with escapes of its own: look for the fixture's
      for (const bad of ['\x1b]52', '\u009b', '\u202e', '\u2066', '\u200f']) {
        assert.ok(!raw.includes(bad), `U+${bad.codePointAt(bad.length - 1)!.toString(16)} reached the terminal`);
      }
      term.keys('q');
      await term.exitCode();
    } finally {
      term.close();
    }
  });
});
