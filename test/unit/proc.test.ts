import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  SIGUSR1,
  looksLikeNodeExecutable,
  parseFdSoftLimit,
  parseMeminfo,
  readListeningPrefix,
  listeningSockets,
  readTcpTable,
  readMeminfo,
  parseNetTcp,
  parseStat,
  parseStatus,
  realPathOutOfReachOf,
  readStat,
  readStatus,
  readTaskStatuses,
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
    // the uid new files get is the last on the line (real, effective, saved, file system)
    const setuid = parseStatus('Uid:\t1000\t0\t0\t33\n');
    assert.deepEqual([setuid.uid, setuid.fsUid], [1000, 33]);
    assert.equal(signalInMask(sleep.sigCaught, SIGUSR1), false);
  });

  it('reads every uid and the effective and permitted capabilities, and takes a status without them as capable', () => {
    const dropped = parseStatus('Uid:\t1000\t65534\t65534\t65534\nCapPrm:\t000001fffeffffff\nCapEff:\t0000000000000000\n');
    assert.deepEqual(dropped.uids, [1000, 65534, 65534, 65534]);
    assert.deepEqual([dropped.capEff, dropped.capPrm], [0n, 0x1fffeffffffn]);
    assert.equal(parseStatus('Uid:\t99\t99\t99\t99\nCapEff:\t0000000000000000\n').capEff, 0n);
    assert.notEqual(parseStatus('Uid:\t99\t99\t99\t99\n').capEff, 0n);
    assert.notEqual(parseStatus('Uid:\t99\t99\t99\t99\n').capPrm, 0n);
    // every thread of this process, as the kernel writes them
    assert.ok(readTaskStatuses(process.pid).length >= 2);
    // this process's own line, as the kernel writes it
    const own = readStatus(process.pid);
    assert.equal(own.capEff === 0n, /^CapEff:\s+0+$/m.test(fs.readFileSync('/proc/self/status', 'utf8')));
  });

  it('tells whether a user can change what a path names: its own directory, one others may write, a sticky one', () => {
    const me = process.geteuid!();
    const other = me === 4242 ? 4243 : 4242; // a uid that owns nothing here
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-reach-'));
    try {
      const real = fs.realpathSync(dir);
      const sub = path.join(real, 'sub');
      // the temporary directory's own chain (/ and the sticky /tmp, root's) is out of anyone's reach
      assert.equal(realPathOutOfReachOf(dir, [other]), real);
      assert.equal(realPathOutOfReachOf(dir, [me]), null, 'its owner can rename what is in it');
      assert.equal(realPathOutOfReachOf(dir, [other, me]), null, 'any uid a process holds counts');
      fs.mkdirSync(sub);
      fs.chmodSync(dir, 0o777);
      assert.equal(realPathOutOfReachOf(sub, [other]), null, 'others may swap sub for a symlink');
      fs.chmodSync(dir, 0o1777);
      assert.equal(realPathOutOfReachOf(sub, [other]), sub, 'sticky: only sub’s owner may rename it');
      fs.chmodSync(dir, 0o775);
      assert.equal(realPathOutOfReachOf(sub, [other]), null, 'its group may write');
      fs.chmodSync(dir, 0o755);
      // a symlink on the way: the answer is where it leads, the path to use from then on
      fs.symlinkSync(sub, path.join(dir, 'link'));
      assert.equal(realPathOutOfReachOf(path.join(dir, 'link'), [other]), sub);
      assert.equal(realPathOutOfReachOf(path.join(dir, 'missing'), [other]), null);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
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
    // the filter picks by inode and state before anything is decoded; TIME_WAIT (06) has inode 0
    const table =
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n' +
      '   0: 0100007F:2405 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 43213 1 0000000000000000 100 0 0 10 0\n' +
      '10000: 0100007F:A3F2 0100007F:2405 06 00000000:00000000 03:000012A3 00000000     0        0 0 3 0000000000000000\n' +
      '10001: 0100007F:A3F3 0100007F:2405 01 00000000:00000000 00:00000000 00000000  1000        0 43999 1 0000000000000000 20 4 30 10 -1\n';
    assert.deepEqual(parseNetTcp(table, false).map((e) => e.inode), [43213, 0, 43999]);
    assert.deepEqual(parseNetTcp(table, false, (inode, state) => inode === 43999 && state === 1), [
      { localAddress: '127.0.0.1', localPort: 0xa3f3, remoteAddress: '127.0.0.1', remotePort: 9221, state: 1, inode: 43999 },
    ]);
  });

  it('reads the fd soft limit', () => {
    const text = 'Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n';
    assert.equal(parseFdSoftLimit(text), 1024);
    assert.equal(parseFdSoftLimit('Max open files            unlimited            unlimited            files\n'), null);
  });

  it('reads only the listening part of a TCP table, which the kernel lists first', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-tcp-'));
    try {
      const file = path.join(dir, 'tcp');
      const line = (n: number, st: string, inode: number): string =>
        `${String(n).padStart(4)}: 0100007F:${(9000 + n).toString(16).toUpperCase()} 00000000:0000 ${st} 00000000:00000000 00:00000000 00000000     0        0 ${inode} 1 0000000000000000 100 0 0 10 0\n`;
      let text = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
      text += line(0, '0A', 11) + line(1, '03', 0) + line(2, '0A', 12);
      const listening = text;
      // then the established hash: thousands of TIME_WAIT lines, and nothing in it is read
      for (let i = 3; i < 5000; i++) text += line(i, '06', 0);
      text += line(5000, '0A', 13);
      fs.writeFileSync(file, text);
      assert.equal(readListeningPrefix(file), listening);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    // and on this machine: the same listeners as the whole table gives
    const srv = net.createServer().listen(0, '127.0.0.1');
    return new Promise<void>((resolve, reject) => {
      srv.on('listening', () => {
        try {
          const port = (srv.address() as net.AddressInfo).port;
          const mine = listeningSockets(process.pid).map((l) => l.port);
          assert.ok(mine.includes(port), `${port} in ${mine.join(', ')}`);
          const whole = readTcpTable(process.pid).filter((e) => e.state === 0x0a && mine.includes(e.localPort)).map((e) => e.localPort);
          assert.deepEqual([...new Set(mine)].sort(), [...new Set(whole)].sort());
          srv.close(() => resolve());
        } catch (e) {
          srv.close();
          reject(e);
        }
      });
    });
  });

  it('reads the host memory from /proc/meminfo', () => {
    const text = 'MemTotal:       24683620 kB\nMemFree:        20000000 kB\nMemAvailable:   24216756 kB\nBuffers:            1000 kB\nCached:          3000000 kB\n';
    assert.deepEqual(parseMeminfo(text), { total: 24683620 * 1024, available: 24216756 * 1024 });
    // kernels before 3.14 have no MemAvailable: free + buffers + cached
    assert.deepEqual(parseMeminfo('MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 10 kB\nCached: 200 kB\n'), { total: 1000 * 1024, available: 310 * 1024 });
    assert.equal(parseMeminfo('nothing here\n'), null);
    // and this machine's, as the kernel says it
    const here = readMeminfo();
    assert.ok(here && here.total > 0 && here.available > 0 && here.available <= here.total);
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
    assert.deepEqual(inspectorHints(['node', '--inspect=9230', 'app.js'], ''), { ports: [9230], randomPort: false, active: true });
    // --inspect-port alone names the port SIGUSR1 will use; nothing listens before the signal
    assert.deepEqual(inspectorHints(['node', '--inspect-port=0', 'app.js'], ''), { ports: [], randomPort: true, active: false });
    assert.deepEqual(inspectorHints(['node', '--inspect=127.0.0.1:0', 'app.js'], ''), { ports: [], randomPort: true, active: true });
    assert.deepEqual(inspectorHints(['node', 'app.js'], '--inspect=127.0.0.1:9333 --max-old-space-size=100'), { ports: [9333], randomPort: false, active: true });
    assert.deepEqual(inspectorHints(['node', '--inspect-port', '4000', 'app.js'], ''), { ports: [4000], randomPort: false, active: false });
    // the application's own arguments are not Node's options
    assert.deepEqual(inspectorHints(['node', 'app.js', '--inspect=1'], ''), { ports: [], randomPort: false, active: false });
    assert.deepEqual(inspectorHints(['node', 'app.js', '--', '--inspect=1'], ''), { ports: [], randomPort: false, active: false });
    // -e and -p take the code as their value; Node's options go on after it
    assert.deepEqual(inspectorHints(['node', '-e', 'setInterval(f, 1)', '--inspect-port=0', '--inspect'], ''), { ports: [], randomPort: true, active: true });
    assert.deepEqual(inspectorHints(['node', '-p', '1', '--inspect=9444', 'arg'], ''), { ports: [9444], randomPort: false, active: true });
    assert.deepEqual(inspectorHints(['node', '-e', '0', 'arg', '--inspect=1'], ''), { ports: [], randomPort: false, active: false });
  });

  it('refuses nodetop’s own pid', () => {
    assert.throws(() => checkPid(process.pid), (e: unknown) => e instanceof NodetopError && e.exitCode === 2 && /this nodetop process/.test(e.message));
  });
});

describe('ps helpers', () => {
  // imported lazily so this block reads as its own unit
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ps = require('../../src/platform/ps') as typeof import('../../src/platform/ps');

  it('maps uids to names from passwd text', () => {
    const m = ps.parsePasswd('root:x:0:0:root:/root:/bin/bash\n# comment\napp:x:1000:1000::/home/app:/bin/sh\n');
    assert.equal(m.get(0), 'root');
    assert.equal(m.get(1000), 'app');
    assert.equal(m.size, 2);
  });

  it('computes CPU % from ticks, over a window and since start', () => {
    assert.equal(ps.cpuPercentBetween(100, 120, 200), 100); // 20 ticks = 200 ms in 200 ms
    assert.equal(ps.cpuPercentBetween(100, 110, 200), 50);
    assert.equal(ps.cpuPercentBetween(100, 90, 200), null);
    assert.equal(ps.cpuPercentBetween(100, 110, 0), null);
    assert.equal(ps.cpuPercentSinceStart(500, 10), 50);
    assert.equal(ps.processUptimeSec(1000, 110), 100);
    assert.equal(ps.parseUptime('12345.67 9999.00\n'), 12345.67);
  });

  it('finds inspector evidence the way locate does, without probing', () => {
    const s = (address: string, port: number): { address: string; port: number; inode: number } => ({ address, port, inode: port });
    assert.deepEqual(ps.inspectorEvidence(null, ['node'], ''), { state: 'unknown', ports: [], evidence: null, exposed: [] });
    assert.equal(ps.inspectorEvidence([s('0.0.0.0', 3000)], ['node', 'app.js'], '').state, 'none');
    const d = ps.inspectorEvidence([s('0.0.0.0', 3000), s('127.0.0.1', 9229)], ['node', 'app.js'], '');
    assert.deepEqual(d.ports, [9229]);
    assert.equal(d.state, 'likely');
    // a port named in NODE_OPTIONS ranks before 9229
    assert.deepEqual(ps.inspectorEvidence([s('127.0.0.1', 9229), s('127.0.0.1', 9331)], ['node'], '--inspect=9331').ports, [9331, 9229]);
    // a random port: any loopback listener is a candidate, a public one is not
    const r = ps.inspectorEvidence([s('127.0.0.1', 41000), s('10.0.0.5', 8080)], ['node', '--inspect=127.0.0.1:0', 'x.js'], '');
    assert.deepEqual(r.ports, [41000]);
    assert.deepEqual(r.exposed, []);
    // --inspect=0.0.0.0:9229: the port is exposed
    assert.deepEqual(ps.inspectorEvidence([s('0.0.0.0', 9229)], ['node', '--inspect=0.0.0.0:9229', 'x.js'], '').exposed, ['0.0.0.0:9229']);
  });
});
