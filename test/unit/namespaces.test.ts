import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { netReach, parseNsPid, pidInOwnNamespace } from '../../src/platform/namespaces';
import { throughSocket } from '../../src/inspector/relay';

describe('namespaces', () => {
  it('reads NSpid outermost first; the last entry is the pid the process sees', () => {
    assert.deepEqual(parseNsPid('Name:\tnode\nNSpid:\t4242\t17\t1\nNSpgid:\t4242\n'), [4242, 17, 1]);
    assert.deepEqual(parseNsPid('NSpid:\t99\n'), [99]);
    assert.equal(parseNsPid('Name:\tnode\n'), null);
    assert.equal(parseNsPid('NSpid:\tx\n'), null);
    assert.equal(pidInOwnNamespace(process.pid), process.pid);
  });

  it('this process shares its own network namespace', () => {
    assert.deepEqual(netReach(process.pid), { kind: 'same' });
    // a pid in another network namespace is tested for real in test/integration/containers.test.ts
  });

  it("rewrites an inspector's WebSocket URL onto the relay's unix socket, and nothing else", () => {
    assert.equal(throughSocket('ws://127.0.0.1:9229/4fad2cb8-6751-4d07-adf1-66064327fa55', '/tmp/nodetop-relay-x/0-9229.sock'), 'ws+unix:///tmp/nodetop-relay-x/0-9229.sock:/4fad2cb8-6751-4d07-adf1-66064327fa55');
    assert.equal(throughSocket('ws://127.0.0.1:9229/a/b', '/tmp/s'), null);
    assert.equal(throughSocket('wss://127.0.0.1:9229/abc', '/tmp/s'), null);
    assert.equal(throughSocket('ws://127.0.0.1:9229/abc', '/tmp/a:b/s'), null);
  });
});
