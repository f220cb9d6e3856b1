// The command line a newcomer meets (issue 25): --help grouped by task with examples, exit codes
// and the docs; no `(default: false)`; errors in nodetop's words, never commander's; ASCII when
// the locale is not UTF-8; `nodetop help <command>`; bash completion of commands, flags and the
// pids of Node processes.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { ROOT, runCli, startTarget } from '../helpers/target';

const COMMANDS = ['stats', 'gc', 'snapshot', 'attach', 'profile', 'arm', 'heap-diff', 'heap-summary', 'demo', 'watch', 'export', 'ps', 'completion', 'record', 'replay'];
const UTF8 = { ...process.env, LC_ALL: 'C.UTF-8' };

describe('nodetop --help and its errors', () => {
  it('groups the commands by task, with examples, the exit codes and the docs', async () => {
    const r = await runCli(['--help'], { env: UTF8 });
    assert.equal(r.code, 0, r.stderr);
    const at = (h: string): number => r.stdout.indexOf(`\n${h}\n`);
    const order = ['Look:', 'Capture:', 'Script:', 'Fleet:'].map(at);
    assert.ok(order.every((i) => i > 0) && order.every((v, i) => i === 0 || v > order[i - 1]!), r.stdout);
    assert.match(r.stdout, /Look:\n(.*\n)*?\s+attach /);
    assert.match(r.stdout, /Capture:\n(.*\n)*?\s+profile /);
    assert.match(r.stdout, /Fleet:\n(.*\n)*?\s+export /);
    assert.match(r.stdout, /Examples:\n\s+nodetop ps/);
    assert.match(r.stdout, /Exit codes: 0 ok, 1 a bug in nodetop, 2 bad usage, 3 no such process/);
    assert.match(r.stdout, /docs\/commands\.md/);
  });

  it('every command: an example, the docs link, no (default: false); help <command> is <command> --help', async () => {
    for (const c of COMMANDS) {
      const a = await runCli(['help', c], { env: UTF8 });
      assert.equal(a.code, 0, `${c}: ${a.stderr}`);
      assert.doesNotMatch(a.stdout, /default: (false|true)/, `${c}: ${a.stdout}`);
      assert.match(a.stdout, new RegExp(`Examples:\\n\\s+nodetop ${c}\\b`), `${c}: ${a.stdout}`);
      assert.match(a.stdout, /docs\/commands\.md#nodetop-/, c);
      const b = await runCli([c, '--help'], { env: UTF8 });
      assert.equal(b.stdout, a.stdout, c);
    }
  });

  it('errors are nodetop sentences: commander\'s wording never leaks', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['stats', 'abc'], /^nodetop: pid must be a positive integer, not "abc"\n/],
      [['stats', '--window', 'x', '1'], /^nodetop: --window must be a duration such as 500, 500ms, 2s or 1m, not "x"\n/],
      [['stats', '--nope', '1'], /^nodetop: there is no option --nope/],
      [['stat', '1'], /^nodetop: there is no command "stat" \(did you mean stats\?\)\n/],
      [['heap-diff', 'a'], /^nodetop: the argument <b> is missing\n/],
      [['stats', '--window'], /^nodetop: --window needs a value\n/],
      [['stats', '1', '2'], /^nodetop: stats takes 1 argument, not 2\n/],
      [['profile', '1', '--format', 'svg'], /^nodetop: --format must be one of cpuprofile, collapsed, not "svg"\n/],
      [['completion', 'fish'], /^nodetop: completion scripts exist for bash and zsh, not "fish"\n/],
    ];
    for (const [argv, msg] of cases) {
      const r = await runCli(argv, { env: UTF8 });
      assert.equal(r.code, 2, `${argv.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, msg, argv.join(' '));
      assert.doesNotMatch(r.stderr, /command-argument|is invalid|error:|Allowed choices/, argv.join(' '));
      assert.match(r.stderr, /\n {2}hint: nodetop (help \S+ lists its options|--help lists the commands)\n$/, argv.join(' '));
      assert.equal(r.stdout, '');
    }
  });

  it('LANG=C: ASCII only, … and ’ spelled out; a UTF-8 locale keeps them', async () => {
    const env = { ...process.env, LANG: 'C', LC_ALL: '', LC_CTYPE: '' };
    for (const argv of [['stats', '--help'], ['--help'], ['profile', '--help'], ['stats', 'abc']]) {
      const r = await runCli(argv, { env });
      const all = r.stdout + r.stderr;
      assert.ok(![...all].some((ch) => ch.charCodeAt(0) > 0x7f), `${argv.join(' ')}: non-ASCII under LANG=C:\n${all}`);
    }
    const c = await runCli(['stats', '--help'], { env });
    assert.match(c.stdout, /unref'd/);
    const u = await runCli(['stats', '--help'], { env: UTF8 });
    assert.match(u.stdout, /unref’d/);
  });
});

describe('nodetop completion', () => {
  it('bash: commands, flags of the command, pids of Node processes; zsh: the same function through bashcompinit', async () => {
    const t = await startTarget('idle.js');
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-completion-'));
    try {
      fs.symlinkSync(path.join(ROOT, 'bin/nodetop'), path.join(bin, 'nodetop'));
      const script = await runCli(['completion', 'bash'], { env: UTF8 });
      assert.equal(script.code, 0, script.stderr);
      fs.writeFileSync(path.join(bin, 'nodetop.bash'), script.stdout);
      const complete = (words: string[]): string[] => {
        const r = spawnSync('bash', ['-c', `source ${path.join(bin, 'nodetop.bash')}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _nodetop; printf '%s\\n' "\${COMPREPLY[@]}"`], {
          encoding: 'utf8',
          env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` },
        });
        assert.equal(r.status, 0, r.stderr);
        return r.stdout.split('\n').filter(Boolean);
      };
      assert.deepEqual(complete(['nodetop', 'st']), ['stats']);
      assert.deepEqual(complete(['nodetop', 'pro']), ['profile']);
      assert.deepEqual(complete(['nodetop', 'stats', '--win']), ['--window']);
      assert.deepEqual(complete(['nodetop', 'profile', '--form']), ['--format']);
      assert.ok(complete(['nodetop', 'stats', '']).includes(String(t.pid)), 'the fixture\'s pid');
      assert.ok(complete(['nodetop', 'gc', String(t.pid).slice(0, -1)]).includes(String(t.pid)));
      assert.deepEqual(complete(['nodetop', 'completion', 'z']), ['zsh']);
      // record takes a pid, replay a file
      assert.deepEqual(complete(['nodetop', 'rec']), ['record']);
      assert.deepEqual(complete(['nodetop', 'record', '--dur']), ['--duration']);
      assert.ok(complete(['nodetop', 'record', '']).includes(String(t.pid)));
      fs.writeFileSync(path.join(bin, 'incident.ndjson.gz'), '');
      assert.deepEqual(complete(['nodetop', 'replay', path.join(bin, 'inc')]), [path.join(bin, 'incident.ndjson.gz')]);
      const pids = await runCli(['ps', '--pids'], { env: UTF8 });
      assert.ok(pids.stdout.split('\n').includes(String(t.pid)), pids.stdout);
      const z = await runCli(['completion', 'zsh'], { env: UTF8 });
      assert.equal(z.code, 0);
      assert.match(z.stdout, /bashcompinit/);
      assert.match(z.stdout, /complete -F _nodetop nodetop/);
    } finally {
      await t.kill();
      fs.rmSync(bin, { recursive: true, force: true });
    }
  });
});
