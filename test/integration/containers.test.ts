// Node in containers: targets in real namespaces made with unshare (network; network + mount +
// pid; a user namespace), attached from outside by their host pid. The numbers are checked
// against the target's own, and nothing may be left behind: no relay process, no inspector port
// open in the target's namespace, nothing in nodetop's private directories.
//
// Needs root (unshare, nsenter, setpriv): skipped elsewhere, with that reason.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as net from 'node:net';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { listeningSockets, processTable, readCmdline } from '../../src/platform/proc';
import { pidInOwnNamespace, readNamespace } from '../../src/platform/namespaces';
import { parseSnapshotFromFile } from 'v8-heapsnapshot';
import { metricValue, startExporter } from '../helpers/exporter';
import { eventually, NODETOP, parseJson, ROOT, runCli, startTarget, type Target } from '../helpers/target';
import type { Sample } from '../../src/model/sample';
import type { SnapshotResult } from '../../src/commands/snapshot';
import type { GcResult } from '../../src/commands/gc';
import type { NodeProcess } from '../../src/platform/ps';
import { haveTmux, openTerminal } from '../helpers/tmux';

const NOBODY = 65534;
const ROOT_ONLY = process.getuid?.() === 0 ? false : 'needs root: the tests make namespaces (unshare) and enter them (nsenter)';

/** Brings loopback up in the new network namespace (a container's is up), then runs Node. */
const LO_UP = ['sh', '-c', 'ip link set lo up && exec "$0" "$@"'];
const NET = ['unshare', '--net', '--fork', ...LO_UP];
const NET_MNT_PID = ['unshare', '--net', '--mount', '--pid', '--fork', '--mount-proc', ...LO_UP];
const USER_NET = ['unshare', '--user', '--map-root-user', '--net', '--fork', ...LO_UP];
/** A rootless container as podman makes one: its own user, network, mount and pid namespaces. */
const USER_NET_PID = ['unshare', '--user', '--map-root-user', '--net', '--pid', '--fork', '--mount-proc', ...LO_UP];
const AS_NOBODY = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'];
/** A user's own rootless container needs unprivileged user namespaces (a sysctl may forbid them). */
function rootlessUnavailable(): string | false {
  if (ROOT_ONLY) return ROOT_ONLY;
  const r = spawnSync(AS_NOBODY[0]!, [...AS_NOBODY.slice(1), 'unshare', '--user', '--map-root-user', '--net', 'true'], { encoding: 'utf8' });
  return r.status === 0 ? false : `nobody cannot make a user namespace here (${r.stderr.trim() || `exit ${r.status}`})`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A loopback port free in this network namespace right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
/**
 * A container: its own network, mount and pid namespaces and its own /tmp (a path on the host is
 * not a path in the target). A checkout under /tmp (a CI clone) would be hidden by that /tmp and
 * the fixture could not start: it is bound back at the same path, and only it.
 */
const UNDER_TMP = ROOT === '/tmp' || ROOT.startsWith('/tmp/');
const CONTAINER = [
  'unshare', '--net', '--mount', '--pid', '--fork', '--mount-proc', 'sh', '-c',
  UNDER_TMP
    ? `ip link set lo up && mount --bind ${JSON.stringify(ROOT)} /mnt && mount -t tmpfs tmpfs /tmp && mkdir -p ${JSON.stringify(ROOT)} && mount --bind /mnt ${JSON.stringify(ROOT)} && umount /mnt && exec "$0" "$@"`
    : 'ip link set lo up && mount -t tmpfs tmpfs /tmp && exec "$0" "$@"',
];

/** Relays (nodetop's helper in the target's namespace) still running on this host. */
function relays(): number[] {
  const out: number[] = [];
  for (const pid of processTable().keys()) {
    try {
      if (readCmdline(pid).some((a) => a.endsWith('relayMain.js'))) out.push(pid);
    } catch {
      /* exited */
    }
  }
  return out;
}

function relayDirs(): string[] {
  return fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('nodetop-relay-'));
}

/** No relay left, no inspector listening in the target's namespace, no private directory left. */
async function assertNoTrace(t: Target, dirsBefore: string[]): Promise<void> {
  const left = await eventually(() => relays(), (r) => r.length === 0);
  assert.deepEqual(left, [], 'no relay process is left');
  const listening = await eventually(() => listeningSockets(t.pid), (s) => s.length === 0);
  assert.deepEqual(listening, [], 'the inspector nodetop opened is closed again');
  assert.deepEqual(relayDirs().filter((d) => !dirsBefore.includes(d)), [], 'no relay directory is left');
  assert.ok(t.alive());
}

describe('containers: refusing what nodetop cannot reach', { skip: ROOT_ONLY }, () => {
  it('as nobody, a target in another network namespace gets no signal and the user one sentence with the ways out', async () => {
    const t = await startTarget('idle.js', { prefix: [...NET, ...AS_NOBODY] });
    try {
      assert.notEqual(readNamespace(t.pid, 'net'), readNamespace('self', 'net'));
      const r = await runCli(['stats', String(t.pid), '--json'], { uid: NOBODY });
      assert.equal(r.code, 15, r.stderr);
      assert.match(r.stderr, /pid \d+ runs in another network namespace \(a container's\) and entering it takes root .*; nodetop sent it nothing/);
      assert.match(r.stderr, /kubectl debug --target/);
      assert.doesNotMatch(r.stderr, /at \S+ \(|did not open an inspector/);
      // nothing was sent: SIGUSR1 would have opened an inspector within milliseconds
      await new Promise((res) => setTimeout(res, 300));
      assert.deepEqual(listeningSockets(t.pid), []);
      assert.doesNotMatch(t.stderr(), /Debugger listening/);
    } finally {
      await t.kill();
    }
  });

  it("as root, a target whose network namespace's loopback is down (plain unshare -n): exit 15, one true sentence, nothing sent, nothing left", async () => {
    const dirs = relayDirs();
    const t = await startTarget('idle.js', { prefix: ['unshare', '--net', '--fork'] });
    try {
      assert.notEqual(readNamespace(t.pid, 'net'), readNamespace('self', 'net'));
      const r = await runCli(['stats', String(t.pid), '--json']);
      assert.equal(r.code, 15, r.stderr);
      assert.match(r.stderr, new RegExp(`the loopback of pid ${t.pid}'s network namespace is down \\(connecting to 127\\.0\\.0\\.1 there fails: ENETUNREACH\\), so its inspector could be reached by nobody; nodetop sent it nothing`));
      assert.match(r.stderr, new RegExp(`hint: .*nsenter --target ${t.pid} --net ip link set lo up`));
      assert.doesNotMatch(r.stderr, /at \S+ \(|did not open an inspector|--endpoint/);
      // nothing was sent: SIGUSR1 would have opened an inspector within milliseconds
      await sleep(300);
      assert.deepEqual(listeningSockets(t.pid), []);
      assert.doesNotMatch(t.stderr(), /Debugger listening/);
      await assertNoTrace(t, dirs);
    } finally {
      await t.kill();
    }
  });

  it('as root without nsenter on PATH, the same: exit 15, nothing sent', async () => {
    const t = await startTarget('idle.js', { prefix: NET });
    try {
      const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-path-'));
      const r = await runCli(['stats', String(t.pid), '--json'], { env: { PATH: bin } });
      fs.rmSync(bin, { recursive: true, force: true });
      assert.equal(r.code, 15, r.stderr);
      assert.match(r.stderr, /entering it takes nsenter \(util-linux\), which is not on PATH; nodetop sent it nothing/);
      await new Promise((res) => setTimeout(res, 300));
      assert.deepEqual(listeningSockets(t.pid), []);
      assert.doesNotMatch(t.stderr(), /Debugger listening/);
    } finally {
      await t.kill();
    }
  });
});

describe('containers: attaching from the host by host pid', { skip: ROOT_ONLY }, () => {
  for (const [name, prefix] of [
    ['a network namespace', NET],
    ['network, mount and pid namespaces (--mount-proc)', NET_MNT_PID],
    ['a user namespace with its network namespace', USER_NET],
  ] as const) {
    it(`stats reads a target in ${name}: its numbers, the host pid, and no trace`, async () => {
      const dirs = relayDirs();
      const t = await startTarget('idle.js', { prefix: [...prefix] });
      try {
        assert.notEqual(readNamespace(t.pid, 'net'), readNamespace('self', 'net'));
        assert.equal(t.facts.pid, pidInOwnNamespace(t.pid));
        if (prefix === NET_MNT_PID) assert.notEqual(t.facts.pid, t.pid, 'the target sees another pid than the host');
        const r = await runCli(['stats', String(t.pid), '--json', '--window', '300']);
        assert.equal(r.code, 0, r.stderr);
        const s = parseJson<Sample>(r);
        assert.equal(s.target.pid, t.pid, 'the host pid, not the one the target sees');
        assert.equal(s.target.inspector.openedByNodetop, true);
        assert.equal(s.handles?.byType.Timeout, 1, "idle.js's one interval");
        assert.equal(s.sockets?.total, 0, "nodetop's own connection through the relay is not the target's socket");
        assert.ok(s.process.fds.open! > 3, 'fds read from the host /proc of the target');
        assert.ok(s.process.rssBytes! > s.memory.heapUsedBytes!);
        await assertNoTrace(t, dirs);
      } finally {
        await t.kill();
      }
    });
  }
});

describe("containers: a rootless container of nodetop's own user", { skip: rootlessUnavailable() }, () => {
  it('as nobody, stats reads its own rootless container (user, network and pid namespaces) by host pid: its numbers, and no trace', async () => {
    const dirs = relayDirs();
    const t = await startTarget('idle.js', { prefix: [...AS_NOBODY, ...USER_NET_PID] });
    try {
      assert.notEqual(readNamespace(t.pid, 'net'), readNamespace('self', 'net'));
      assert.notEqual(readNamespace(t.pid, 'user'), readNamespace('self', 'user'));
      assert.equal(fs.readFileSync(`/proc/${t.pid}/uid_map`, 'utf8').trim().split(/\s+/).join(' '), `0 ${NOBODY} 1`);
      const r = await runCli(['stats', String(t.pid), '--json', '--window', '300'], { uid: NOBODY });
      assert.equal(r.code, 0, r.stderr);
      const s = parseJson<Sample>(r);
      assert.equal(s.target.pid, t.pid);
      assert.equal(s.target.inspector.openedByNodetop, true);
      assert.equal(s.handles?.byType.Timeout, 1, "idle.js's one interval");
      assert.equal(s.sockets?.total, 0);
      assert.ok(s.process.fds.open! > 3, 'fds read from the host /proc of the target');
      await assertNoTrace(t, dirs);
    } finally {
      await t.kill();
    }
  });

  it('as nobody, gc, watch and snapshot reach its own rootless container by host pid; the snapshot lands at the host path', async () => {
    const dirs = relayDirs();
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-rootless-'));
    fs.chownSync(out, NOBODY, NOBODY);
    const t = await startTarget('leaky.js', { prefix: [...AS_NOBODY, ...USER_NET_PID], args: ['77', '0'] });
    try {
      const gc = await runCli(['gc', String(t.pid), '--json'], { uid: NOBODY });
      assert.equal(gc.code, 0, gc.stderr);
      assert.equal(parseJson<GcResult>(gc).pid, t.pid);

      const w = await runCli(['watch', String(t.pid), '--count', '2', '--interval', '200', '--json'], { uid: NOBODY });
      assert.equal(w.code, 0, w.stderr);
      const samples = w.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { event?: string; target?: { pid: number } })
        .filter((l) => l.event === undefined);
      assert.equal(samples.length, 2, w.stdout);
      for (const l of samples) assert.equal(l.target?.pid, t.pid);

      const snap = path.join(out, 's.heapsnapshot');
      const sr = await runCli(['snapshot', String(t.pid), '-o', snap, '--yes', '--json'], { uid: NOBODY, hangGuardMs: 60_000 });
      assert.equal(sr.code, 0, sr.stderr);
      assert.equal(parseJson<SnapshotResult>(sr).path, snap);
      assert.equal(fs.statSync(snap).uid, NOBODY);
      const parsed = await parseSnapshotFromFile(snap);
      assert.equal(parsed.nodes.filter((n) => n.type === 'object' && n.name === 'LeakyThing').length, 77);
      await assertNoTrace(t, dirs);
    } finally {
      await t.kill();
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  // The relay holds every capability of that user namespace while it lives in nodetop's pid and
  // mount namespaces: a container process that sees it could trace it or read the host's files
  // through /proc/<relay>/root (a review showed it). Sharing nodetop's pid namespace, it would.
  it('as nobody, a rootless container in this pid namespace is refused: exit 15, nothing sent, no relay', async () => {
    const dirs = relayDirs();
    const t = await startTarget('idle.js', { prefix: [...AS_NOBODY, ...USER_NET] });
    try {
      const r = await runCli(['stats', String(t.pid), '--json'], { uid: NOBODY });
      assert.equal(r.code, 15, r.stderr);
      assert.match(r.stderr, new RegExp(`pid ${t.pid} runs in another network namespace .* of this user, but it shares this pid namespace.*nodetop sent it nothing`));
      assert.deepEqual(listeningSockets(t.pid), [], 'no inspector opened');
      assert.doesNotMatch(t.stderr(), /Debugger listening/);
      await assertNoTrace(t, dirs);
    } finally {
      await t.kill();
    }
  });
});

describe('containers: the watchdog reaches the container, never a host process on the same port', { skip: ROOT_ONLY }, () => {
  it("nodetop SIGKILLed while attached to a container's inspector on port P, with a host Node's inspector on P: the container's is closed, the host's untouched", async () => {
    const dirs = relayDirs();
    const port = await freePort();
    const host = await startTarget('idle.js', { nodeArgs: [`--inspect=127.0.0.1:${port}`] });
    // --inspect-port: SIGUSR1 opens on P in the container, and nodetop leaves it there (it moves only 9229)
    const t = await startTarget('idle.js', { prefix: NET, nodeArgs: [`--inspect-port=${port}`] });
    const log = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-wdlog-')), 'watchdog.log');
    try {
      assert.deepEqual(listeningSockets(host.pid).map((x) => x.port), [port]);
      const cli = spawn(process.execPath, [NODETOP, 'watch', String(t.pid), '--interval', '200'], {
        stdio: 'ignore',
        env: { ...process.env, NODETOP_WATCHDOG_LOG: log },
      });
      try {
        await eventually(() => t.ask('nodetop'), (x) => x.sessions === 1, 15_000);
        assert.deepEqual(listeningSockets(t.pid).map((x) => x.port), [port], "nodetop opened the container's inspector on P");
      } finally {
        cli.kill('SIGKILL');
      }
      // the lease is 60 s: the watchdog acts within a poll, a relay's start and a round trip
      const left = await eventually(() => (t.alive() ? listeningSockets(t.pid) : null), (x) => x === null || x.length === 0, 10_000);
      const why = fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '(no watchdog log)';
      assert.ok(t.alive(), `the container's target lives; its stderr:\n${t.stderr()}\n${JSON.stringify(await Promise.race([t.exited, sleep(500)]))}\nthe watchdog's log:\n${why}`);
      assert.deepEqual(left, [], `the watchdog closed the inspector nodetop opened in the container; its log:\n${why}`);
      assert.equal((await t.ask('nodetop')).sessions, 0, 'the dead nodetop’s instruments went with it');
      await sleep(300);
      assert.deepEqual(listeningSockets(host.pid).map((x) => x.port), [port], `the host process's inspector is untouched; the watchdog's log:\n${why}`);
      assert.equal(host.stderr().match(/Debugger listening/g)?.length, 1);
      assert.equal((await host.ask('nodetop')).sessions, 0);
      await assertNoTrace(t, dirs);
    } finally {
      await t.kill();
      await host.kill();
      fs.rmSync(path.dirname(log), { recursive: true, force: true });
    }
  });
});

describe('containers: nodetop SIGKILLed mid-session', { skip: ROOT_ONLY }, () => {
  it('the relay dies with it, the lease closes the inspector, nothing is left; the next nodetop attaches', async () => {
    const dirs = relayDirs();
    const t = await startTarget('idle.js', { prefix: NET });
    try {
      const before = await t.ask('state');
      const cli = spawn(process.execPath, [NODETOP, 'stats', String(t.pid), '--window', '30000'], {
        stdio: 'ignore',
        env: { ...process.env, NODETOP_LEASE_MS: '1500' },
      });
      try {
        const installed = await eventually(() => t.ask('state'), (s) => (s.symbols as string[]).includes('Symbol(nodetop)'), 10_000);
        assert.ok((installed.symbols as string[]).includes('Symbol(nodetop)'));
        assert.equal(relays().length, 1, 'one relay while nodetop runs');
      } finally {
        cli.kill('SIGKILL');
      }
      await new Promise((r) => cli.on('exit', r));
      const after = await eventually(() => t.ask('state'), (s) => JSON.stringify(s) === JSON.stringify(before), 10_000);
      assert.deepEqual(after, before);
      await assertNoTrace(t, dirs);
      const r = await runCli(['stats', String(t.pid), '--json', '--window', '50']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(parseJson<Sample>(r).target.pid, t.pid);
      await assertNoTrace(t, dirs);
    } finally {
      await t.kill();
    }
  });
});

describe('containers: every command from the host', { skip: ROOT_ONLY }, () => {
  it('gc, profile, snapshot, watch, export and ps reach a target in its own network, mount and pid namespaces and its own /tmp', async () => {
    const dirs = relayDirs();
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-ct-'));
    const t = await startTarget('leaky.js', { prefix: CONTAINER, args: ['123', '0'] });
    try {
      assert.notEqual(t.facts.pid, t.pid);
      assert.ok(!fs.existsSync(`/proc/${t.pid}/root${out}`), "the host's output directory is not in the target's file system");

      const gc = await runCli(['gc', String(t.pid), '--json']);
      assert.equal(gc.code, 0, gc.stderr);
      const g = parseJson<GcResult>(gc);
      assert.equal(g.pid, t.pid);
      assert.equal(g.isolates[0]?.state, 'collected');

      const prof = path.join(out, 'p.cpuprofile');
      const pr = await runCli(['profile', String(t.pid), '--duration', '300', '-o', prof, '--json']);
      assert.equal(pr.code, 0, pr.stderr);
      assert.equal(parseJson<{ pid: number }>(pr).pid, t.pid);
      assert.ok(Array.isArray((JSON.parse(fs.readFileSync(prof, 'utf8')) as { nodes: unknown[] }).nodes));

      const snap = path.join(out, 's.heapsnapshot');
      const sr = await runCli(['snapshot', String(t.pid), '-o', snap, '--yes', '--json'], { hangGuardMs: 60_000 });
      assert.equal(sr.code, 0, sr.stderr);
      const res = parseJson<SnapshotResult>(sr);
      assert.equal(res.path, snap);
      assert.equal(res.writtenBy, 'nodetop', 'streamed: the target cannot see the host path');
      assert.equal(res.bytes, fs.statSync(snap).size);
      const parsed = await parseSnapshotFromFile(snap);
      assert.equal(parsed.nodes.filter((n) => n.type === 'object' && n.name === 'LeakyThing').length, 123);
      // (but the way to a checkout under /tmp, bound there by the test: CONTAINER)
      const ours = UNDER_TMP ? ROOT.split('/')[2] : null;
      assert.deepEqual(fs.readdirSync(`/proc/${t.pid}/root/tmp`).filter((n) => n !== ours), [], "nothing in the container's /tmp");

      const w = await runCli(['watch', String(t.pid), '--count', '2', '--interval', '200', '--json']);
      assert.equal(w.code, 0, w.stderr);
      // samples only: an event record (a lag spike on a loaded host) may come between them
      const lines = w.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { pid?: number; event?: string; target?: { pid: number } })
        .filter((l) => l.event === undefined);
      assert.equal(lines.length, 2, w.stdout);
      for (const l of lines) assert.equal(l.target?.pid ?? l.pid, t.pid);

      const e = await startExporter([String(t.pid), '--interval', '300']);
      try {
        const m = await eventually(() => e.scrape(), (r) => metricValue(r.body, 'nodejs_gc_duration_seconds_count', { pid: String(t.pid) }) !== null, 10_000);
        assert.notEqual(metricValue(m.body, 'nodejs_gc_duration_seconds_count', { pid: String(t.pid) }), null, m.body.slice(0, 500));
      } finally {
        assert.equal(await e.stop(), 143, e.stderr()); // SIGTERM's documented code
      }

      const ps = await runCli(['ps', '--json']);
      assert.equal(ps.code, 0, ps.stderr);
      const list = parseJson<NodeProcess[]>(ps);
      const row = list.find((p) => p.pid === t.pid);
      assert.equal(row?.sharesNetwork, false);
      assert.ok(!list.some((p) => p.argv.some((a) => a.endsWith('relayMain.js'))), 'a relay is not a service');
      const text = await runCli(['ps']);
      assert.match(text.stdout, new RegExp(`^\\s*${t.pid}\\s+\\d+\\s+root\\s+own netns\\s`, 'm'));

      await assertNoTrace(t, dirs);
    } finally {
      await t.kill();
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});

/** A cgroup v1 memory hierarchy this test may create directories in, or null. */
function memoryCgroupRoot(): string | null {
  const root = '/sys/fs/cgroup/memory';
  try {
    const probe = fs.mkdtempSync(path.join(root, 'nodetop-probe-'));
    fs.rmdirSync(probe);
    return root;
  } catch {
    return null;
  }
}

describe('containers: the cgroup says which container, and its memory limit', { skip: ROOT_ONLY || (memoryCgroupRoot() === null ? 'no writable cgroup v1 memory hierarchy here' : false) }, () => {
  it("ps names a pod's container and its pod; snapshot refuses what the container's limit (on an ancestor cgroup) cannot hold", async () => {
    const id = randomBytes(32).toString('hex');
    const top = fs.mkdtempSync(path.join(memoryCgroupRoot()!, 'nodetop-test-'));
    const leaf = path.join(top, 'kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1b2c3d4e_0000_1111_2222_333344445555.slice', `cri-containerd-${id}.scope`);
    fs.mkdirSync(leaf, { recursive: true });
    const t = await startTarget('leaky.js', { prefix: NET, args: ['10', '0', '4'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOSTNAME: 'web-7d4b9-xk2lp' } });
    try {
      // the pod's limit, on an ancestor of the container's cgroup: 32 MiB more than nothing
      fs.writeFileSync(path.join(top, 'memory.limit_in_bytes'), String(32 * 1024 * 1024));
      fs.writeFileSync(path.join(leaf, 'cgroup.procs'), String(t.pid));
      const ps = await runCli(['ps']);
      assert.equal(ps.code, 0, ps.stderr);
      assert.match(ps.stdout, new RegExp(`^\\s*${t.pid}\\s+\\d+\\s+root\\s+containerd:${id.slice(0, 12)} web-7d4b9-xk2lp\\s`, 'm'), ps.stdout);
      const list = parseJson<NodeProcess[]>(await runCli(['ps', '--json']));
      assert.deepEqual(list.find((p) => p.pid === t.pid)?.container, { runtime: 'containerd', id, name: 'web-7d4b9-xk2lp', podUid: '1b2c3d4e-0000-1111-2222-333344445555' });

      const out = path.join(os.tmpdir(), `nodetop-ct-${id.slice(0, 8)}.heapsnapshot`);
      const r = await runCli(['snapshot', String(t.pid), '-o', out, '--yes', '--json']);
      assert.equal(r.code, 11, r.stderr);
      assert.match(r.stderr, /whose cgroup uses .* of its 32(\.0)? MiB limit/);
      assert.ok(!fs.existsSync(out));
      assert.ok(t.alive());
    } finally {
      await t.kill();
      await eventually(() => fs.readFileSync(path.join(leaf, 'cgroup.procs'), 'utf8'), (v) => v.trim() === '');
      for (let d = leaf; d.startsWith(top); d = path.dirname(d)) fs.rmdirSync(d);
    }
  });
});

describe('containers: nodetop inside the container, and an inspector opened from inside', { skip: ROOT_ONLY }, () => {
  it('nodetop in the target\'s network, mount and pid namespaces (docker exec) works as on a plain host, by the pid it sees there', async () => {
    const dirs = relayDirs();
    const t = await startTarget('idle.js', { prefix: NET_MNT_PID });
    try {
      const inner = Number(t.facts.pid);
      const exec = ['nsenter', '--target', String(t.pid), '--net', '--mount', '--pid', '--'];
      const r = await runCli(['stats', String(inner), '--json', '--window', '200'], { prefix: exec });
      assert.equal(r.code, 0, r.stderr);
      const s = parseJson<Sample>(r);
      assert.equal(s.target.pid, inner);
      assert.match(s.target.inspector.url, /^ws:\/\/127\.0\.0\.1:\d+\//, 'reached directly: no relay inside the container');
      assert.equal(s.handles?.byType.Timeout, 1);
      assert.ok(s.process.fds.open! > 3, "its /proc is the container's, and nodetop reads it");
      const ps = parseJson<NodeProcess[]>(await runCli(['ps', '--json'], { prefix: exec }));
      const row = ps.find((p) => p.pid === inner);
      assert.equal(row?.sharesNetwork, true);
      await assertNoTrace(t, dirs);
    } finally {
      await t.kill();
    }
  });

  it('a container started with --inspect is found by ps and attached without a signal, and its inspector stays open', async () => {
    const t = await startTarget('idle.js', { prefix: CONTAINER, nodeArgs: ['--inspect=127.0.0.1:9229'] });
    try {
      const list = parseJson<NodeProcess[]>(await runCli(['ps', '--json']));
      const row = list.find((p) => p.pid === t.pid);
      assert.equal(row?.inspector.state, 'likely');
      assert.deepEqual(row?.inspector.ports, [9229]);
      assert.equal(row?.sharesNetwork, false);
      const r = await runCli(['stats', String(t.pid), '--json', '--window', '200']);
      assert.equal(r.code, 0, r.stderr);
      const s = parseJson<Sample>(r);
      assert.equal(s.target.pid, t.pid);
      assert.equal(s.target.inspector.openedByNodetop, false);
      assert.deepEqual(listeningSockets(t.pid).map((x) => x.port), [9229], 'its own inspector is left open');
      assert.equal(t.stderr().match(/Debugger listening/g)?.length, 1, 'no second inspector: nothing was signalled');
      assert.deepEqual(await eventually(() => relays(), (x) => x.length === 0), []);
    } finally {
      await t.kill();
    }
  });
});

// A real container runtime: podman runs a root file system assembled here (this Node binary and
// the libraries it links, two fixture files). This machine (cgroup v1/v2 hybrid, no
// CAP_SYS_RESOURCE) needs runc (crun refuses hybrid cgroups), the cgroupfs manager, file events,
// `--ulimit host` (raising a limit is not permitted) and `--network none` (no bridge): the
// container still has a network, mount, pid, ipc and uts namespace and a cgroup of its own.
const PODMAN = ['podman', '--runtime', '/usr/sbin/runc', '--cgroup-manager=cgroupfs', '--events-backend=file'];
function podmanMissing(): string | false {
  if (ROOT_ONLY) return ROOT_ONLY;
  for (const f of ['/usr/bin/podman', '/usr/sbin/runc']) if (!fs.existsSync(f)) return `${f} is not installed (apt-get install podman runc); the namespace tests above stand for it`;
  return false;
}

describe('containers: a real container runtime (podman --rootfs)', { skip: podmanMissing() }, () => {
  it('ps names the podman container; stats and snapshot reach it by host pid from the host; nothing left', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-rootfs-'));
    const name = `nodetop-e2e-${randomBytes(4).toString('hex')}`;
    const conf = path.join(root, '..', `${path.basename(root)}.conf`);
    fs.writeFileSync(conf, '[containers]\ndefault_ulimits = []\n');
    const env = { ...process.env, CONTAINERS_CONF: conf };
    const podman = (...args: string[]): string => execFileSync(PODMAN[0]!, [...PODMAN.slice(1), ...args], { env, encoding: 'utf8', timeout: 60_000 }).trim();
    try {
      const node = fs.realpathSync(process.execPath);
      const libs = execFileSync('ldd', [node], { encoding: 'utf8' }).match(/\/\S+/g) ?? [];
      for (const f of [node, ...libs]) {
        fs.mkdirSync(path.join(root, path.dirname(f)), { recursive: true });
        fs.copyFileSync(f, path.join(root, f));
      }
      fs.chmodSync(path.join(root, node), 0o755);
      fs.mkdirSync(path.join(root, 'app'));
      for (const f of ['idle.js', 'lib.js']) fs.copyFileSync(path.join(__dirname, '../../../test/fixtures', f), path.join(root, 'app', f));
      for (const d of ['tmp', 'proc', 'dev', 'sys', 'etc']) fs.mkdirSync(path.join(root, d), { recursive: true });

      const id = podman('run', '-d', '--name', name, '--network', 'none', '--ulimit', 'host', '--rootfs', root, node, '/app/idle.js');
      const pid = Number(await eventually(() => podman('inspect', '--format', '{{.State.Pid}}', name), (v) => Number(v) > 0));
      await eventually(() => podman('logs', name), (l) => l.includes('"ready":true'));
      assert.equal(pidInOwnNamespace(pid), 1);

      const ps = await runCli(['ps']);
      assert.match(ps.stdout, new RegExp(`^\\s*${pid}\\s+\\d+\\s+root\\s+podman:${id.slice(0, 12)}`, 'm'), ps.stdout);

      const r = await runCli(['stats', String(pid), '--json', '--window', '200']);
      assert.equal(r.code, 0, r.stderr);
      const s = parseJson<Sample>(r);
      assert.equal(s.target.pid, pid);
      assert.equal(s.handles?.byType.Timeout, 1);

      const snap = path.join(root, '..', `${name}.heapsnapshot`);
      const sr = await runCli(['snapshot', String(pid), '-o', snap, '--yes', '--json'], { hangGuardMs: 60_000 });
      assert.equal(sr.code, 0, sr.stderr);
      assert.equal(parseJson<SnapshotResult>(sr).writtenBy, 'nodetop');
      assert.ok((await parseSnapshotFromFile(snap)).nodes.length > 1000);
      fs.rmSync(snap);
      assert.deepEqual(fs.readdirSync(path.join(root, 'tmp')), [], "nothing in the container's /tmp");
      assert.deepEqual(await eventually(() => relays(), (x) => x.length === 0), []);
      assert.deepEqual(await eventually(() => listeningSockets(pid), (x) => x.length === 0), []);
    } finally {
      try {
        podman('rm', '-f', '-t', '0', name);
      } catch {
        /* never started */
      }
      fs.rmSync(root, { recursive: true, force: true });
      fs.rmSync(conf, { force: true });
    }
  });
});

describe('containers: the live view', { skip: ROOT_ONLY || (haveTmux() ? false : 'tmux is not installed') }, () => {
  // the overview (nodetop alone) reads every process whose inspector is open, a container's
  // through the relay, and names where each runs
  it('the overview shows a container whose inspector is open, with its numbers and where it runs, and signals nobody', async () => {
    const dirs = relayDirs();
    const t = await startTarget('idle.js', { prefix: NET, nodeArgs: ['--inspect=127.0.0.1:9229'] });
    const closed = await startTarget('idle.js', { prefix: NET });
    try {
      const term = openTerminal([], { cols: 200, rows: 50 });
      try {
        const screen = await term.waitFor(new RegExp(`^\\s*${t.pid} +\\d+ +[\\d.]+ MiB`, 'm'), 20_000);
        assert.match(screen, new RegExp(`^\\s*${t.pid} .*own netns`, 'm'), screen);
        term.keys('q');
        assert.equal(await term.exitCode(10_000), 0);
      } finally {
        term.close();
      }
      assert.deepEqual(listeningSockets(closed.pid), [], 'the container nobody named was not signalled');
      assert.equal(listeningSockets(t.pid).length, 1, 'the inspector its image opened stays open');
      assert.deepEqual(await eventually(() => relays(), (x) => x.length === 0), []);
      assert.deepEqual(relayDirs().filter((d) => !dirs.includes(d)), []);
    } finally {
      await t.kill();
      await closed.kill();
    }
  });

  it('attach draws the dashboard of a target in its own namespaces by host pid, and q leaves nothing', async () => {
    const dirs = relayDirs();
    const t = await startTarget('idle.js', { prefix: NET_MNT_PID });
    try {
      const term = openTerminal(['attach', String(t.pid), '--interval', '250'], { cols: 100, rows: 30 });
      try {
        const screen = await term.waitFor(/Heap used [\d.]+ \w+/, 15_000);
        assert.match(screen, new RegExp(`pid ${t.pid}\\b`), 'the host pid in the header');
        term.keys('q');
        assert.equal(await term.exitCode(10_000), 0);
      } finally {
        term.close();
      }
      await assertNoTrace(t, dirs);
    } finally {
      await t.kill();
    }
  });
});
