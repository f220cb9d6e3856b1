// Reaching an inspector in another network namespace (a container's). The target's inspector
// listens on 127.0.0.1 of ITS namespace, which the host's loopback cannot reach. nodetop starts
// the relay (relayMain.js) inside that namespace with nsenter, and the relay carries each
// connection from a unix socket in a 0700 directory of nodetop's to the inspector. Never a host
// TCP port: any local user could connect to that, and an inspector is code execution as the
// target's user.
//
// A Route is how locate.ts and attach.ts reach a port in the target's namespace: directly (the
// same namespace) or through the relay. routeTo() decides before anything is sent to the target,
// so nodetop never opens an inspector it could not then reach (README: "Safety").
//
// Not here: what namespaces a pid is in (src/platform/namespaces.ts).

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { debugTrace } from '../debug';
import { ExitCode, NodetopError } from '../errors';
import { netReach, readNamespace } from '../platform/namespaces';
import * as proc from '../platform/proc';
import { listTargets, type InspectorTarget } from './session';

export interface Route {
  /** The relay into the target's network namespace; null when nodetop shares that namespace. */
  readonly relay: Relay | null;
  /** GET /json/list of the inspector at host:port in the target's namespace; WebSocket URLs that reach it from here. */
  listTargets(host: string, port: number, timeoutMs: number): Promise<InspectorTarget[]>;
}

export const DIRECT: Route = { relay: null, listTargets };

/** The ways out, for every refusal to reach into a namespace. */
export const NAMESPACE_HINT =
  'run nodetop as root on the host; or run it inside the container (docker exec, kubectl exec); or share the process namespace ' +
  '(kubectl debug --target); or forward the inspector port and give --endpoint (docs/containers.md)';

/**
 * A namespace made with `unshare -n` and nothing more: its loopback was never brought up (every
 * container runtime and systemd's PrivateNetwork= bring it up). Bringing it up changes the
 * service's own network, so it is the user's call, not nodetop's.
 */
const LOOPBACK_DOWN_HINT = (pid: number): string =>
  `its loopback was never brought up (a plain unshare -n; container runtimes and systemd's PrivateNetwork= bring it up); bringing it up changes the service's network and is yours to decide: as root, nsenter --target ${pid} --net ip link set lo up`;

const RELAY_SCRIPT = path.join(__dirname, 'relayMain.js');

/** A 0700 directory of nodetop's own for the relays' sockets; its path is made without ':' (a ws+unix: URL splits there). */
function privateDir(): string {
  const base = os.tmpdir().includes(':') ? '/tmp' : os.tmpdir();
  return fs.mkdtempSync(path.join(base, 'nodetop-relay-'));
}

export class Relay {
  private readonly pendingOpens = new Map<string, Array<(r: { file: string } | { error: string }) => void>>();
  private closed = false;

  private constructor(
    private readonly child: ChildProcess,
    readonly dir: string,
    readonly targetPid: number,
  ) {
    const rl = readline.createInterface({ input: child.stdout! });
    rl.on('line', (line) => {
      const m = /^(ready|error) (\S+ \d+) (.*)$/.exec(line);
      if (!m) return;
      const waiting = this.pendingOpens.get(m[2]!);
      this.pendingOpens.delete(m[2]!);
      for (const cb of waiting ?? []) cb(m[1] === 'ready' ? { file: m[3]! } : { error: m[3]! });
    });
    child.on('exit', () => {
      this.closed = true;
      for (const list of this.pendingOpens.values()) for (const cb of list) cb({ error: 'the relay exited' });
      this.pendingOpens.clear();
    });
  }

  get alive(): boolean {
    return !this.closed;
  }

  /** The relay's pid (a child of nodetop's, in the target's network namespace). */
  get pid(): number | null {
    return this.child.pid ?? null;
  }

  /**
   * Starts the relay in the network namespace of `targetPid`. The start is the last check that
   * nodetop can enter that namespace, made before any signal: it fails when nsenter does.
   */
  static async start(targetPid: number, nsenter: string, timeoutMs: number, viaUserNs = false): Promise<Relay> {
    const theirs = readNamespace(targetPid, 'net');
    const dir = privateDir();
    debugTrace(`starting a relay into the network namespace of pid ${targetPid} (${theirs ?? '?'})${viaUserNs ? ' through its user namespace' : ''}, sockets in ${dir}`);
    // a rootless container of nodetop's user: through its user namespace, keeping nodetop's uid
    // and groups (nsenter would otherwise become uid 0 there and call setgroups, which an
    // unprivileged user namespace denies)
    const enter = viaUserNs ? ['--user', '--preserve-credentials', '--net'] : ['--net'];
    // a clean environment: NODE_OPTIONS of nodetop's (an --inspect, a --require) must not reach
    // a root process in the target's namespace
    const child = spawn(nsenter, ['--target', String(targetPid), ...enter, '--', process.execPath, RELAY_SCRIPT, dir], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-500)));
    const removeDir = (): void => fs.rmSync(dir, { recursive: true, force: true });
    // from the spawn on, not from the hello: a process that exits while the relay starts (the
    // watchdog, done before its relay said hello) left the directory behind. The directory goes
    // first: a relay seen gone has left nothing (a test saw the directory in between, under load).
    const cleanup = (): void => {
      removeDir();
      child.kill('SIGKILL');
    };
    process.once('exit', cleanup);
    // `hello loopback up`, or `hello loopback down ENETUNREACH` (relayMain.ts); null: no hello
    const loopback = await new Promise<string | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), timeoutMs);
      const rl = readline.createInterface({ input: child.stdout! });
      rl.once('line', (line) => {
        clearTimeout(timer);
        rl.close();
        resolve(/^hello loopback (up|down \w{1,32})$/.exec(line)?.[1] ?? null);
      });
      child.once('exit', () => {
        clearTimeout(timer);
        resolve(null);
      });
      child.once('error', () => {
        clearTimeout(timer);
        resolve(null);
      });
    });
    // the pid could have exited and been reused between the check and nsenter: the relay must
    // sit in the namespace that was checked
    const inNs = loopback !== null && child.pid !== undefined ? readNamespace(child.pid, 'net') : null;
    if (loopback === null || theirs === null || inNs !== theirs || loopback !== 'up') {
      process.removeListener('exit', cleanup);
      cleanup();
      if (!proc.processExists(targetPid)) throw new NodetopError(`pid ${targetPid} exited`, { exitCode: ExitCode.TargetExited });
      if (loopback !== null && loopback !== 'up' && inNs === theirs) {
        throw new NodetopError(
          `the loopback of pid ${targetPid}'s network namespace is down (connecting to 127.0.0.1 there fails: ${loopback.slice(5)}), so its inspector could be reached by nobody; nodetop sent it nothing`,
          { exitCode: ExitCode.NamespaceUnreachable, hint: LOOPBACK_DOWN_HINT(targetPid) },
        );
      }
      const why = stderr.trim().split('\n').pop()?.replace(/[^\x20-\x7e]/g, '?') ?? '';
      throw new NodetopError(
        `pid ${targetPid} runs in another network namespace and nodetop could not enter it${why ? ` (nsenter: ${why})` : ''}; nodetop sent it nothing`,
        { exitCode: ExitCode.NamespaceUnreachable, hint: NAMESPACE_HINT },
      );
    }
    // the relay must not keep nodetop alive, and nodetop's exit (any exit: the pipe closes) ends it
    child.unref();
    (child.stdin as unknown as { unref?: () => void }).unref?.();
    (child.stdout as unknown as { unref?: () => void }).unref?.();
    (child.stderr as unknown as { unref?: () => void }).unref?.();
    return new Relay(child, dir, targetPid);
  }

  /** The unix socket that reaches host:port in the target's namespace. */
  socketFor(host: string, port: number, timeoutMs: number): Promise<string> {
    const key = `${host} ${port}`;
    if (this.closed) return Promise.reject(this.lost());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(this.lost()), timeoutMs);
      const list = this.pendingOpens.get(key) ?? [];
      list.push((r) => {
        clearTimeout(timer);
        if ('file' in r) resolve(r.file);
        else reject(new NodetopError(`the relay into pid ${this.targetPid}'s network namespace could not open ${host}:${port}: ${r.error}`, { exitCode: ExitCode.EndpointFailed }));
      });
      this.pendingOpens.set(key, list);
      this.child.stdin!.write(`open ${host} ${port}\n`);
    });
  }

  /**
   * The local ports of the relay's own connections in the target's namespace: the connections
   * nodetop's sessions arrive on, which are not "other clients" of the inspector.
   */
  ownLocalPorts(): number[] {
    const pid = this.child.pid;
    if (pid === undefined || this.closed) return [];
    try {
      const mine = proc.socketInodes(pid);
      return proc.readTcpTable(pid, (inode) => mine.has(inode)).map((e) => e.localPort);
    } catch {
      return [];
    }
  }

  private lost(): NodetopError {
    return new NodetopError(`the relay into pid ${this.targetPid}'s network namespace is not answering`, { exitCode: ExitCode.EndpointFailed });
  }
}

/** A WebSocket URL of the inspector, rewritten to reach it through the relay's unix socket. */
export function throughSocket(wsUrl: string, socketFile: string): string | null {
  let u: URL;
  try {
    u = new URL(wsUrl);
  } catch {
    return null;
  }
  // the inspector's session path is a UUID; anything else is not an inspector's URL
  if (u.protocol !== 'ws:' || !/^\/[0-9A-Za-z-]{1,64}$/.test(u.pathname) || socketFile.includes(':')) return null;
  return `ws+unix://${socketFile}:${u.pathname}`;
}

function relayRoute(relay: Relay, pid: number): Route {
  return {
    relay,
    async listTargets(host, port, timeoutMs) {
      const file = await relay.socketFor(host, port, timeoutMs);
      const list = await listTargets(host, port, timeoutMs, file);
      const out: InspectorTarget[] = [];
      for (const t of list) {
        const url = throughSocket(t.webSocketDebuggerUrl, file);
        if (url) out.push({ ...t, webSocketDebuggerUrl: url });
      }
      if (out.length === 0) throw new NodetopError(`${host}:${port} in pid ${pid}'s network namespace is not a Node inspector`, { exitCode: ExitCode.EndpointFailed });
      return out;
    },
  };
}

// one relay per network namespace for the life of this nodetop: a relocated inspector, a second
// attach and every process of the same container (a pod, a cluster) go through it
const relays = new Map<string, Promise<Relay>>();

/**
 * How to reach ports in the pid's network namespace: directly, or through a relay started now.
 * Throws NodetopError (ExitCode.NamespaceUnreachable) when nodetop cannot enter it; the caller
 * has sent nothing yet.
 */
export async function routeTo(pid: number, timeoutMs: number): Promise<Route> {
  const reach = netReach(pid);
  if (reach.kind === 'same') return DIRECT;
  if (reach.kind === 'unreachable') {
    throw new NodetopError(`${reach.reason}; nodetop sent it nothing`, { exitCode: ExitCode.NamespaceUnreachable, hint: NAMESPACE_HINT });
  }
  const ns = readNamespace(pid, 'net') ?? `pid ${pid}`;
  let relay = relays.get(ns);
  if (relay && !(await relay.then((r) => r.alive, () => false))) relay = undefined;
  if (!relay) {
    relay = Relay.start(pid, reach.nsenter, Math.max(timeoutMs, 2000), reach.user);
    relays.set(ns, relay);
    relay.catch(() => relays.delete(ns));
  }
  return relayRoute(await relay, pid);
}
