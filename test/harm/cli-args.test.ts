// Every argument's bad forms, through the real CLI: one line (plus at most a hint), exit 2, no
// stack, nothing attached. And the security refusals of --endpoint (non-loopback hosts, ws://
// URLs, IPv6) without --allow-remote.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { runCli, type CliResult } from '../helpers/target';

function oneSentence(r: CliResult, what: string): void {
  assert.doesNotMatch(r.stderr, /\n\s+at /, `${what}: no stack trace: ${r.stderr}`);
  assert.match(r.stderr, /^nodetop: [^\n]+\n( {2}hint: [^\n]+\n)?$/, `${what}: one sentence: ${JSON.stringify(r.stderr)}`);
  assert.equal(r.stdout, '', `${what}: nothing on stdout`);
}

const BAD: string[][] = [
  // pids
  ['stats', 'abc'], ['stats', '-5'], ['stats', '1.5'], ['stats', '0'], ['stats', '99999999999'], ['stats', '0x10'], ['stats', '1e3'],
  ['stats', ''], ['stats', ' '], ['stats', '12abc'], ['stats', '4194305'], ['stats', '1', '2'],
  ['attach', 'abc'], ['attach', '-1'],
  // durations
  ['stats', '1', '--window', 'soon'], ['stats', '1', '--window', '5'], ['stats', '1', '--window', '-100'], ['stats', '1', '--window', '1h'],
  ['stats', '1', '--window', 'NaN'], ['stats', '1', '--window', 'Infinity'], ['stats', '1', '--window', '1e9'], ['stats', '1', '--window', '700000'],
  ['stats', '1', '--window'], ['stats', '1', '--timeout', '0'], ['stats', '1', '--timeout', '10'], ['stats', '1', '--timeout', '2x'],
  ['attach', '1', '--interval', '50'], ['attach', '1', '--interval', 'fast'], ['demo', '--interval', '0'],
  // endpoints
  ['stats', '--endpoint', 'nope:port'], ['stats', '--endpoint', 'host:99999'], ['stats', '--endpoint', ':0'], ['stats', '--endpoint', ''],
  ['stats', '--endpoint', 'http://127.0.0.1:9229'], ['stats', '--endpoint', 'ws://'], ['stats', '--endpoint', '[::1'], ['stats', '--endpoint'],
  // flags in the wrong place, unknown ones
  ['--json', 'stats', '1'], ['--window', '100', 'stats', '1'], ['stats', '1', '--frobnicate'], ['stats', '1', '-x'], ['frobnicate'],
  ['stats', '1', '--json=yes'], ['demo', '123'], ['demo', '--endpoint', '127.0.0.1:9229'],
  // no target
  ['stats'], ['stats', '--json'],
];

const REMOTE: string[][] = [
  ['stats', '--endpoint', '192.0.2.1:9229'],
  ['stats', '--endpoint', 'example.com:9229'],
  ['stats', '--endpoint', 'ws://192.0.2.1:9229/abc'],
  ['stats', '--endpoint', 'ws://[2001:db8::1]:9229/abc'],
  ['stats', '--endpoint', '[2001:db8::1]:9229'],
  ['stats', '--endpoint', '[::ffff:192.0.2.1]:9229'],
  ['stats', '--endpoint', '0.0.0.0:9229'],
  ['stats', '1', '--endpoint', 'wss://192.0.2.1/abc'],
];

describe('bad command lines', () => {
  it(`${BAD.length} bad forms of every argument: one sentence, exit 2`, async () => {
    for (const args of BAD) {
      const r = await runCli(args, { hangGuardMs: 10_000 });
      assert.equal(r.code, 2, `${JSON.stringify(args)}: exit ${r.code}: ${r.stderr}`);
      oneSentence(r, JSON.stringify(args));
    }
  });

  it(`${REMOTE.length} non-loopback endpoints (host:port, ws:// URLs, IPv6) are refused without --allow-remote: exit 2`, async () => {
    for (const args of REMOTE) {
      const r = await runCli(args, { hangGuardMs: 10_000 });
      assert.equal(r.code, 2, `${JSON.stringify(args)}: exit ${r.code}: ${r.stderr}`);
      assert.match(r.stderr, /refusing to connect to /, JSON.stringify(args));
      oneSentence(r, JSON.stringify(args));
    }
  });
});
