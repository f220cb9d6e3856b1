import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { parseCommandLine } from '../../src/cli';
import { parseEndpoint } from '../../src/inspector/attach';
import { isLoopbackHost } from '../../src/loopback';
import { NodetopError } from '../../src/errors';

function usage(argv: string[]): NodetopError {
  try {
    parseCommandLine(argv);
  } catch (e) {
    assert.ok(e instanceof NodetopError, String(e));
    assert.equal(e.exitCode, 2);
    return e;
  }
  assert.fail(`expected a usage error for ${argv.join(' ')}`);
}

describe('command line', () => {
  it('parses the trigger options of watch: each --then belongs to the --when before it', () => {
    const inv = parseCommandLine(['watch', '4242', '--when', 'heap.used > 85% of limit for 30s', '--then', 'snapshot', '--then', 'profile 10s', '--out', '/var/tmp/incident/', '--when', 'fds > 90% of limit', '--then', 'stats', '--then', 'exec ./page-oncall.sh']);
    assert.equal(inv.command, 'watch');
    if (inv.command !== 'watch') return;
    assert.ok(inv.triggers);
    assert.deepEqual(
      inv.triggers.triggers.map((t) => [t.index, t.when, t.actions.map((a) => a.text)]),
      [
        [1, 'heap.used > 85% of limit for 30s', ['snapshot', 'profile 10s']],
        [2, 'fds > 90% of limit', ['stats', 'exec ./page-oncall.sh']],
      ],
    );
    assert.equal(inv.triggers.outDir, '/var/tmp/incident/');
    assert.deepEqual(inv.triggers.limits, { maxActions: 1, cooldownMs: 60_000, keepWatching: false });
    const lag = parseCommandLine(['watch', '4242', '--when', 'lag.p99 > 200ms for 10s', '--then', 'profile', '--max-actions', '3', '--cooldown', '5m']);
    assert.ok(lag.command === 'watch' && lag.triggers);
    assert.deepEqual(lag.triggers.limits, { maxActions: 3, cooldownMs: 300_000, keepWatching: false });
    assert.equal(parseCommandLine(['watch', '4242']).command === 'watch' && (parseCommandLine(['watch', '4242']) as { triggers: unknown }).triggers, null);
  });

  it('refuses trigger options that make no sense, in one sentence', () => {
    assert.match(usage(['watch', '4242', '--out', '/tmp']).message, /--out goes with --when/);
    assert.match(usage(['watch', '4242', '--then', 'gc']).message, /comes before any --when/);
    assert.match(usage(['watch', '4242', '--when', 'rss > 1GB', '--then', 'snapshot worker']).message, /needs a worker in its --when/);
    assert.match(usage(['watch', '4242', '--when', 'rss > 1GB', '--cooldown', 'soon']).message, /--cooldown must be a duration/);
    assert.match(usage(['watch', '4242', '--when', 'rss >> 1GB']).message, /^--when "rss >> 1GB": at position 6, /);
  });

  it('parses stats with its options and defaults', () => {
    const inv = parseCommandLine(['stats', '123']);
    assert.deepEqual(inv, {
      command: 'stats',
      pid: 123,
      windowMs: 1000,
      json: false,
      sockets: true,
      top: 20,
      census: false,
      workers: true,
      common: { timeoutMs: 5000, allowRemote: false, keepInspector: false, forceSignal: false, followChild: false },
    });
    const j = parseCommandLine(['stats', '7', '--json', '--window', '2s', '--timeout', '500ms', '--keep-inspector']);
    assert.equal(j.command, 'stats');
    if (j.command === 'stats') {
      assert.equal(j.windowMs, 2000);
      assert.equal(j.common.timeoutMs, 500);
      assert.equal(j.common.keepInspector, true);
      assert.equal(j.json, true);
    }
    const n = parseCommandLine(['stats', '7', '--top', '5', '--census']);
    assert.ok(n.command === 'stats' && n.top === 5 && n.census === true && n.sockets === true);
    const off = parseCommandLine(['stats', '7', '--no-sockets']);
    assert.ok(off.command === 'stats' && off.sockets === false);
    const nw = parseCommandLine(['stats', '7', '--no-workers']);
    assert.equal(nw.command === 'stats' && nw.workers, false);
    const fc = parseCommandLine(['stats', '7', '--follow-child']);
    assert.equal(fc.command === 'stats' && fc.common.followChild, true);
  });

  it('parses gc: main thread by default, --worker, --all-threads, not both', () => {
    const d = parseCommandLine(['gc', '5']);
    assert.deepEqual(d.command === 'gc' && d.select, { kind: 'main' });
    const w = parseCommandLine(['gc', '5', '--worker', '3', '--json']);
    assert.deepEqual(w.command === 'gc' && [w.select, w.json], [{ kind: 'worker', threadId: 3 }, true]);
    const a = parseCommandLine(['gc', '5', '--all-threads']);
    assert.deepEqual(a.command === 'gc' && a.select, { kind: 'all' });
    assert.match(usage(['gc', '5', '--worker', '0']).message, /start at 1/);
    assert.match(usage(['gc', '5', '--worker', 'x']).message, /threadId/);
    assert.match(usage(['gc', '5', '--worker', '2', '--all-threads']).message, /not both/);
  });

  it('rejects bad pids, durations and options with a sentence', () => {
    assert.match(usage(['stats', 'abc']).message, /pid must be a positive integer/);
    assert.match(usage(['stats', '0']).message, /out of range/);
    assert.match(usage(['stats', '12', '--window', 'soon']).message, /--window must be a duration/);
    assert.match(usage(['stats', '12', '--window', '5']).message, /between 10 ms/);
    assert.match(usage(['stats', '12', '--bogus']).message, /there is no option --bogus/);
    assert.match(usage(['stats', '12', '--census', '--no-sockets']).message, /cannot go with --no-sockets/);
    assert.match(usage(['stats', '12', '--top', 'many']).message, /--top must be a whole number/);
    assert.match(usage(['stats', '12', '--top', '5000']).message, /--top must be between 0 and 1000/);
    assert.match(usage(['stats']).message, /give the pid/);
    assert.match(usage(['frobnicate']).message, /there is no command "frobnicate"/);
  });

  it('prints help and version without touching anything', () => {
    assert.equal(parseCommandLine(['--help']).command, 'help');
    const bare = parseCommandLine([]); // not a terminal here: the help, not the overview
    assert.equal(bare.command, 'help');
    assert.match(bare.command === 'help' ? bare.text : '', /Usage: nodetop/);
    const v = parseCommandLine(['--version']);
    assert.equal(v.command, 'version');
  });

  it('parses endpoints and knows loopback', () => {
    assert.deepEqual(parseEndpoint('127.0.0.1:9229'), { host: '127.0.0.1', port: 9229, wsUrl: null });
    assert.deepEqual(parseEndpoint('9230'), { host: '127.0.0.1', port: 9230, wsUrl: null });
    assert.deepEqual(parseEndpoint('[::1]:9229'), { host: '::1', port: 9229, wsUrl: null });
    assert.equal(parseEndpoint('ws://localhost:9229/abc').host, 'localhost');
    assert.throws(() => parseEndpoint('nope:port'), NodetopError);
    assert.throws(() => parseEndpoint('host:99999'), NodetopError);
    assert.ok(isLoopbackHost('localhost') && isLoopbackHost('127.0.0.5') && isLoopbackHost('::1'));
    assert.ok(!isLoopbackHost('10.0.0.1') && !isLoopbackHost('example.com'));
  });
});
