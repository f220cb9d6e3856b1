import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import {
  SIGUSR1,
  looksLikeNodeExecutable,
  parseFdSoftLimit,
  parseNetTcp,
  parseStat,
  parseStatus,
  readStat,
  signalInMask,
} from '../../src/platform/proc';
import { checkPid, inspectorHints } from '../../src/inspector/locate';
import { NodetopError } from '../../src/errors';

describe('/proc parsers', () => {
  it('parses stat with a comm that holds spaces and parentheses', () => {
    const s = parseStat('1234 (my (weird) app) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 11 0 98765 1234567 2048 18446744073709551615');
    assert.equal(s.pid, 1234);
    assert.equal(s.comm, 'my (weird) app');
    assert.equal(s.state, 'S');
    assert.equal(s.ppid, 1);
    assert.equal(s.utimeTicks, 250);
    assert.equal(s.stimeTicks, 75);
    assert.equal(s.numThreads, 11);
    assert.equal(s.startTimeTicks, 98765);
    assert.equal(s.rssPages, 2048);
  });

  it('reads this process’s own stat', () => {
    const s = readStat(process.pid);
    assert.equal(s.pid, process.pid);
    assert.equal(s.ppid, process.ppid);
  });

  it('finds SIGUSR1 in SigCgt', () => {
    const st = parseStatus('Name:\tnode\nUid:\t1000\t1000\t1000\t1000\nSigBlk:\t0000000000000000\nSigIgn:\t0000000001001000\nSigCgt:\t0000000100004602\n');
    assert.equal(st.uid, 1000);
    assert.equal(signalInMask(st.sigCaught, SIGUSR1), true);
    assert.equal(signalInMask(st.sigCaught, 12), false);
    const sleep = parseStatus('Uid:\t0\t0\t0\t0\nSigCgt:\t0000000000000000\n');
    assert.equal(signalInMask(sleep.sigCaught, SIGUSR1), false);
  });

  it('parses /proc/net/tcp and tcp6 listeners', () => {
    const v4 = parseNetTcp(
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n' +
        '   0: 0100007F:2405 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 43213 1 0000000000000000 100 0 0 10 0\n' +
        '   1: 0100007F:A3F2 0100007F:2405 01 00000000:00000000 00:00000000 00000000     0        0 43999 1 0000000000000000 20 4 30 10 -1\n',
      false,
    );
    assert.deepEqual(v4[0], { localAddress: '127.0.0.1', localPort: 9221, remoteAddress: '0.0.0.0', remotePort: 0, state: 0x0a, inode: 43213 });
    assert.equal(v4[1]?.remotePort, 9221);
    assert.equal(v4[1]?.state, 1);
    const v6 = parseNetTcp(
      '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n' +
        '   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5555 1 0000000000000000 100 0 0 10 0\n' +
        '   1: 0000000000000000FFFF00000100007F:1F91 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5556 1 0000000000000000 100 0 0 10 0\n',
      true,
    );
    assert.equal(v6[0]?.localAddress, '::1');
    assert.equal(v6[0]?.localPort, 8080);
    assert.equal(v6[1]?.localAddress, '::ffff:127.0.0.1');
  });

  it('reads the fd soft limit', () => {
    const text = 'Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n';
    assert.equal(parseFdSoftLimit(text), 1024);
    assert.equal(parseFdSoftLimit('Max open files            unlimited            unlimited            files\n'), null);
  });

  it('recognises Node executables and nothing else', () => {
    for (const yes of ['/usr/bin/node', '/usr/local/bin/nodejs', '/opt/node-v22.1.0/bin/node', '/x/node20', '/usr/bin/node (deleted)'])
      assert.ok(looksLikeNodeExecutable(yes), yes);
    for (const no of ['/usr/bin/sleep', '/usr/bin/nodemon', '/usr/bin/python3', '/bin/sh', '/usr/bin/node_exporter'])
      assert.ok(!looksLikeNodeExecutable(no), no);
  });
});

describe('locating the inspector', () => {
  it('reads inspector ports from argv and NODE_OPTIONS', () => {
    assert.deepEqual(inspectorHints(['node', '--inspect=9230', 'app.js'], ''), { ports: [9230], randomPort: false });
    assert.deepEqual(inspectorHints(['node', '--inspect-port=0', 'app.js'], ''), { ports: [], randomPort: true });
    assert.deepEqual(inspectorHints(['node', 'app.js'], '--inspect=127.0.0.1:9333 --max-old-space-size=100'), { ports: [9333], randomPort: false });
    assert.deepEqual(inspectorHints(['node', '--inspect-port', '4000', 'app.js'], ''), { ports: [4000], randomPort: false });
    assert.deepEqual(inspectorHints(['node', 'app.js', '--', '--inspect=1'], ''), { ports: [], randomPort: false });
  });

  it('refuses nodetop’s own pid', () => {
    assert.throws(() => checkPid(process.pid), (e: unknown) => e instanceof NodetopError && e.exitCode === 2 && /this nodetop process/.test(e.message));
  });
});
