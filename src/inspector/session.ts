// One inspector connection, the way puppeteer's CDP layer does it: typed send, a bound on
// every call whose message names the setting to change, every pending call rejected with a
// labelled error when the socket closes, traffic traceable with NODETOP_DEBUG=protocol.
//
// chrome-remote-interface does the WebSocket and the framing. Two things are added around it:
// a timeout per call (the inspector has none: a target stuck in a syscall never answers) and a
// guard on incoming frames (CRI's JSON.parse of a bad frame would throw inside nodetop).
//
// Not here: finding the port (locate.ts), what runs in the target (src/probes).

import * as http from 'node:http';
import CDP from 'chrome-remote-interface';
import { ExitCode, NodetopError } from '../errors';
import { printable } from '../model/text';
import type { Probe } from '../probes/probe';
import { debugProtocol, debugTrace, trace } from '../debug';
import { probeExpression, probeFunction, PROBE_ERROR_KEY, sourceUrl } from '../probes/probe';

/** Frames over this are refused from their header (see the Session constructor). */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;

export interface InspectorTarget {
  id: string;
  title: string;
  url: string;
  webSocketDebuggerUrl: string;
}

/** Anything that can carry inspector commands: the main connection or a worker behind it. */
export interface Sender {
  send<T = unknown>(method: string, params?: object, opts?: CallOptions): Promise<T>;
}

export interface CallOptions {
  timeoutMs?: number;
  label?: string;
}

/** The protocol failed to answer in time; kept distinct so callers can look at /proc. */
export class CallTimeoutError extends NodetopError {
  constructor(label: string, timeoutMs: number) {
    super(`the target did not answer ${label} within ${timeoutMs} ms`, {
      exitCode: ExitCode.TargetNotResponding,
      hint: 'its main thread may be blocked outside JavaScript; raise --timeout to wait longer',
    });
  }
}

/** The connection went away while a call was pending. */
export class ConnectionClosedError extends NodetopError {
  constructor(label: string) {
    super(`the inspector connection closed during ${label}`, { exitCode: ExitCode.TargetExited });
  }
}

/**
 * Waits `ms`, or rejects with ConnectionClosedError as soon as the connection closes (the
 * target exited, or told nodetop it is exiting): a command that waits out a window or a profile
 * must not keep an exiting process waiting, nor itself.
 */
export function waitWhileConnected(session: Session, ms: number, label = 'the wait'): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      resolve();
    }, ms);
    session.onClose(() => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(session.closedError(label));
    });
  });
}

/** The connection closed because the target said it is exiting (see Session.leaveWhenTargetExits). */
export class TargetExitingError extends ConnectionClosedError {
  constructor(label: string) {
    super(label);
    this.message = `the target exited during ${label}`;
  }
}

/** The most a /json/list answer may be: Node's is a few hundred bytes per target. */
const MAX_LIST_BYTES = 1 << 20;

/**
 * GET /json/list on an inspector's HTTP port. Throws NodetopError with a reason. The whole
 * request is bounded by `timeoutMs` and its answer by MAX_LIST_BYTES: an endpoint that trickles
 * a byte at a time (each byte restarting the socket's idle timer) cannot hold nodetop.
 * `socketPath`: through a relay's unix socket to host:port in another network namespace (relay.ts).
 *
 * Every target's WebSocket must be on the host and port asked: Node builds the URL from the
 * request's Host header (inspector_socket_server.cc), so its own answer always names them. Any
 * other address was put there by whoever answers, to send nodetop where --allow-remote (or
 * the pid's own socket) never said it could go.
 */
export function listTargets(host: string, port: number, timeoutMs: number, socketPath?: string): Promise<InspectorTarget[]> {
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(deadline);
      return true;
    };
    const fail = (message: string, hint?: string): void => {
      if (!settle()) return;
      req.destroy();
      reject(new NodetopError(message, { exitCode: ExitCode.EndpointFailed, ...(hint ? { hint } : {}) }));
    };
    // agent:false: the connection closes with the answer; a kept-alive one would show in the
    // target's own socket sample (its port may be the application's, not the inspector's)
    const to = socketPath === undefined ? { host, port } : { socketPath };
    const req = http.get({ ...to, path: '/json/list', timeout: timeoutMs, agent: false, headers: { host: where } }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_LIST_BYTES) {
          fail(`${where} is not a Node inspector (its /json/list answer is over 1 MiB)`);
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => {
        if (settled) return;
        let parsed: unknown;
        try {
          parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          fail(`${where} answers HTTP but is not a Node inspector (/json/list is not JSON)`);
          return;
        }
        const list = Array.isArray(parsed)
          ? parsed.filter(
              (t): t is InspectorTarget =>
                !!t && typeof t === 'object' && typeof (t as InspectorTarget).webSocketDebuggerUrl === 'string',
            )
          : [];
        if (list.length === 0) {
          fail(`${where} is not a Node inspector (no debuggable target in /json/list)`);
          return;
        }
        const elsewhere = list.map((t) => wsElsewhere(t.webSocketDebuggerUrl, host, port)).find((w) => w !== null);
        if (elsewhere !== undefined) {
          fail(
            `${where} names its WebSocket at ${elsewhere}, not at ${where}: nodetop connects only to the address it was given`,
            'a Node inspector always names the address it was asked on; this endpoint is not one, or a proxy rewrites it',
          );
          return;
        }
        if (settle()) resolve(list);
      });
      res.on('error', () => fail(`the connection to ${where} broke while reading /json/list`));
    });
    // the socket's idle timeout (above) restarts with every byte; this bounds the whole request
    const deadline = setTimeout(
      () => fail(`${where} did not answer within ${timeoutMs} ms`, 'raise --timeout, or check the endpoint'),
      timeoutMs,
    );
    req.on('timeout', () => fail(`${where} did not answer within ${timeoutMs} ms`, 'raise --timeout, or check the endpoint'));
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNREFUSED') fail(`nothing is listening on ${where} (connection refused)`);
      else if (e.code === 'ECONNRESET') fail(`${where} closed the connection: it is not a Node inspector`);
      else if (e.code === 'HPE_INVALID_CONSTANT' || e.code?.startsWith('HPE_'))
        fail(`${where} does not speak HTTP: it is not a Node inspector`);
      else if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') fail(`cannot resolve the host of ${where}`);
      else fail(`cannot reach ${where}: ${e.code ?? e.message}`);
    });
  });
}

/**
 * Null when `url` is a ws:// URL on exactly `host`:`port`; otherwise what it names instead
 * (printable: it is the endpoint's text).
 */
export function wsElsewhere(url: string, host: string, port: number): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return printable(JSON.stringify(url.slice(0, 100)));
  }
  const bare = (h: string): string => h.replace(/^\[|\]$/g, '').toLowerCase();
  const named = `${u.hostname}:${u.port || '(none)'}`;
  if (u.protocol !== 'ws:') return printable(`${u.protocol}//${named}`);
  if (bare(u.hostname) !== bare(host) || Number(u.port || 80) !== port) return printable(named);
  return null;
}

interface CriClient {
  send(method: string, params?: object): Promise<unknown>;
  close(): Promise<void>;
  on(event: string, cb: (...args: unknown[]) => void): void;
  _ws?: {
    /** ws: 0 connecting, 1 open, 2 closing, 3 closed */
    readonly readyState: number;
    close(): void;
    removeAllListeners(event: string): void;
    on(event: string, cb: (data: unknown) => void): void;
    terminate(): void;
  };
  _handleMessage?(message: unknown): void;
}

export class Session implements Sender {
  private closed = false;
  private closeReason: string | null = null;
  /** Set when the endpoint proved not to be an inspector: what pending and later calls fail with. */
  private closeError: NodetopError | null = null;
  private readonly pending = new Set<(err: Error) => void>();
  private nudgeInFlight = false;
  private nudgeId: unknown = null;
  private readonly closeListeners: Array<() => void> = [];
  private readonly eventListeners = new Map<string, Set<(params: unknown) => void>>();
  private exitingSince: number | null = null;

  private constructor(
    private readonly client: CriClient,
    readonly wsUrl: string,
    private readonly defaultTimeoutMs: number,
  ) {
    client.on('disconnect', () => this.markClosed('disconnected'));
    client.on('event', (msg) => {
      const m = msg as { method?: string; params?: unknown };
      if (!m.method) return;
      for (const cb of this.eventListeners.get(m.method) ?? []) cb(m.params);
    });
    // CRI parses every frame with a bare JSON.parse inside the socket's handler: a garbage frame
    // would throw out of nodetop. Parse here instead and treat garbage as the end of the session.
    const ws = client._ws;
    // CRI lets frames of up to 256 MiB in, buffered whole before anything looks at them. No
    // inspector answer nodetop asks for comes near 64 MiB (a sample is a few KB; heap snapshot
    // chunks are small): a bigger frame is refused from its header, before it is read.
    const receiver = (ws as unknown as { _receiver?: { _maxPayload?: number } } | undefined)?._receiver;
    if (receiver && typeof receiver._maxPayload === 'number') receiver._maxPayload = MAX_FRAME_BYTES;
    ws?.on('error', (e) => {
      if (/max payload/i.test(String((e as Error)?.message))) {
        this.notAnInspector(`the endpoint sent a frame over ${MAX_FRAME_BYTES / 1024 / 1024} MiB: it is not a Node inspector nodetop can use`);
        // ws would wait up to 30 s for a closing handshake from a peer that is still sending
        ws.terminate();
      }
    });
    if (ws && client._handleMessage) {
      const handle = client._handleMessage.bind(client);
      ws.removeAllListeners('message');
      ws.on('message', (data) => {
        let msg: unknown;
        try {
          msg = JSON.parse(String(data));
        } catch {
          this.notAnInspector('the endpoint sent a frame that is not JSON: it is not a Node inspector');
          ws.terminate();
          return;
        }
        if (debugProtocol) trace(`<- ${String(data).slice(0, 300)}\n`);
        handle(msg);
        if (msg && typeof msg === 'object' && 'id' in msg) this.ackNudge((msg as { id: unknown }).id);
      });
    }
  }

  static async connect(wsUrl: string, timeoutMs: number): Promise<Session> {
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    // An empty protocol description: nodetop sends raw methods, and CRI's bundled protocol.json
    // (about 1 MB of JSON) would cost every start-up its parse.
    // CRI takes a URL string only for ws: and wss:; a relay's ws+unix: URL goes in as a target object
    const target = wsUrl.startsWith('ws+unix:') ? { webSocketDebuggerUrl: wsUrl } : wsUrl;
    const connecting = CDP({ target, protocol: { version: { major: '1', minor: '3' }, domains: [] } }) as unknown as Promise<CriClient>;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        reject(
          new NodetopError(`the inspector at ${wsUrl} did not accept a WebSocket within ${timeoutMs} ms`, {
            exitCode: ExitCode.EndpointFailed,
            hint: 'raise --timeout, or check that the endpoint is a Node inspector',
          }),
        );
      }, timeoutMs);
    });
    // A connection that completes after we gave up must still be closed.
    connecting.then(
      (c) => {
        if (timedOut) void c.close().catch(() => undefined);
      },
      () => undefined,
    );
    try {
      const client = await Promise.race([connecting, timeout]);
      const session = new Session(client, wsUrl, timeoutMs);
      session.leaveWhenTargetExits();
      return session;
    } catch (e) {
      if (e instanceof NodetopError) throw e;
      const msg = e instanceof Error ? e.message : String(e);
      throw new NodetopError(`cannot open the inspector WebSocket ${wsUrl}: ${msg}`, {
        exitCode: ExitCode.EndpointFailed,
        hint: /400|403|404/.test(msg) ? 'another debugger may hold the only session this Node allows' : undefined,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  /** The local port of nodetop's own end of the WebSocket (to tell it from other clients). */
  get localPort(): number | null {
    const sock = (this.client._ws as unknown as { _socket?: { localPort?: number } } | undefined)?._socket;
    return typeof sock?.localPort === 'number' ? sock.localPort : null;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Waits up to `boundMs` for the target to drop this connection (true if it did). Used after a
   * probe scheduled the target's inspector.close(): a client's own close arriving while that close
   * runs crashes Node 20.20.2 (SIGSEGV, docs/tried.md), so the client lets the target hang up.
   */
  async closedByTarget(boundMs: number): Promise<boolean> {
    const end = Date.now() + boundMs;
    while (!this.closed && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    return this.closed;
  }

  /**
   * Calls sent and not yet answered by the target, counting those that already timed out here:
   * the target still has them queued. A periodic sampler sends nothing more while this is
   * non-zero, so a target that stops answering never finds a pile of requests when it resumes.
   */
  get unansweredCalls(): number {
    return this.unanswered;
  }
  private unanswered = 0;

  /**
   * The target told nodetop it is exiting (or its context is gone): when, by performance.now().
   * The session was closed at that moment; the process may still be on its way out (or have
   * replaced itself with exec), but the Node program nodetop attached to has ended.
   */
  get targetExitingSince(): number | null {
    return this.exitingSince;
  }

  /**
   * Node holds an exiting process ("Waiting for the debugger to disconnect...") for as long as
   * an inspector client is connected: at exit (natural end, process.exit(), an uncaught
   * exception, and process.execve() on Node 22.15-24) it runs a nested message loop until every
   * WebSocket session is gone. NodeRuntime.notifyWhenWaitingForDisconnect (Node 12 and later,
   * every supported version) makes it send NodeRuntime.waitingForDisconnect at that moment; it
   * is a method that sets a flag in the session (src/inspector/runtime_agent.cc), not a domain:
   * it costs the target nothing per request. nodetop then leaves at once. A Node or an endpoint
   * that lacks it answers with an error, ignored: the other tell, a destroyed context, remains
   * (see exitTell). Sent on the main thread's session only: a worker's session with the flag set
   * would make the worker wait for its sessions too (WaitForDisconnect in inspector_agent.cc).
   */
  private leaveWhenTargetExits(): void {
    this.on('NodeRuntime.waitingForDisconnect', () => this.targetExiting('it is waiting for the debugger to disconnect'));
    if (debugProtocol) trace('-> NodeRuntime.notifyWhenWaitingForDisconnect {"enabled":true}\n');
    // not counted in unansweredCalls: an endpoint that never answers it must not stop sampling
    this.client.send('NodeRuntime.notifyWhenWaitingForDisconnect', { enabled: true }).catch(() => undefined);
  }

  /** The target is exiting: close the socket now (a graceful close would wait on the target), then tell everyone. */
  private targetExiting(why: string): void {
    if (this.closed) return;
    this.exitingSince = performance.now();
    debugTrace(`the target is exiting (${why}): leaving at once`);
    this.closeReason = `the target is exiting: ${why}`;
    const ws = this.client._ws;
    void this.client.close().catch(() => undefined);
    setTimeout(() => ws?.terminate(), 1000).unref();
    this.markClosed(this.closeReason);
  }

  /** What a call pending or made after the close fails with. */
  closedError(label: string): Error {
    return this.closeError ?? (this.exitingSince !== null ? new TargetExitingError(label) : new ConnectionClosedError(label));
  }

  /** Why the session closed, when nodetop knows better than "disconnected". */
  get closedBecause(): string | null {
    return this.closeReason;
  }

  onClose(cb: () => void): void {
    if (this.closed) cb();
    else this.closeListeners.push(cb);
  }

  on(method: string, cb: (params: unknown) => void): () => void {
    let set = this.eventListeners.get(method);
    if (!set) this.eventListeners.set(method, (set = new Set()));
    set.add(cb);
    return () => set.delete(cb);
  }

  private notAnInspector(reason: string): void {
    if (this.closed || this.closeError) return;
    this.closeReason = reason;
    this.closeError = new NodetopError(reason, { exitCode: ExitCode.EndpointFailed });
  }

  private markClosed(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason ??= reason;
    for (const reject of this.pending) reject(this.closeError ?? new Error('closed'));
    this.pending.clear();
    for (const cb of this.closeListeners.splice(0)) {
      try {
        cb();
      } catch {
        /* a listener's failure must not stop the others */
      }
    }
  }

  /**
   * The inspector's socket in the target has Nagle's algorithm on: when it owes two replies, the
   * second waits until our kernel acknowledges the first, and our kernel delays that ACK by
   * ~40 ms when it has nothing to send (measured: a baseline sample sent beside NodeWorker.enable
   * came back 44 ms late). So when a reply arrives while other calls are still pending, send one
   * no-op command (Runtime.getIsolateId: no domain, no JavaScript): its packet carries the ACK at
   * once. A nudge's own reply never triggers another, so a long call alone sends none.
   */
  private ackNudge(replyId: unknown): void {
    if (replyId === this.nudgeId) {
      this.nudgeInFlight = false;
      return;
    }
    // the call just answered is still counted until its promise settles: nudge only for others
    if (this.nudgeInFlight || this.closed || this.pending.size <= 1 || process.env.NODETOP_NO_NUDGE === '1') return;
    this.nudgeInFlight = true;
    const client = this.client as unknown as { _nextCommandId: number };
    this.nudgeId = client._nextCommandId;
    if (debugProtocol) trace(`-> Runtime.getIsolateId (nudge: the ACK for ${String(replyId)}, ${this.pending.size - 1} still pending)\n`);
    this.client.send('Runtime.getIsolateId', {}).then(
      () => (this.nudgeInFlight = false),
      () => (this.nudgeInFlight = false),
    );
  }

  send<T = unknown>(method: string, params: object = {}, opts: CallOptions = {}): Promise<T> {
    const label = opts.label ?? method;
    const timeoutMs = opts.timeoutMs ?? this.defaultTimeoutMs;
    if (this.closed) return Promise.reject(this.closedError(label));
    if (debugProtocol) trace(`-> ${method} ${JSON.stringify(params).slice(0, 300)}\n`);
    return new Promise<T>((resolve, reject) => {
      const onClose = (err: Error): void => {
        clearTimeout(timer);
        reject(err instanceof NodetopError ? err : this.closedError(label));
      };
      const timer = setTimeout(() => {
        this.pending.delete(onClose);
        reject(new CallTimeoutError(label, timeoutMs));
      }, timeoutMs);
      this.pending.add(onClose);
      this.unanswered++;
      this.client.send(method, params).then(
        (r) => {
          this.unanswered--;
          clearTimeout(timer);
          this.pending.delete(onClose);
          resolve(r as T);
        },
        (e: unknown) => {
          this.unanswered--;
          clearTimeout(timer);
          this.pending.delete(onClose);
          if (!this.closed && exitTell(e)) this.targetExiting('its context is gone');
          // A socket already closing (the target hung up; its close event not here yet) fails a
          // send with "WebSocket is not open": that is a closed connection, not a protocol error
          // (an attach that lost this race gave up with exit 7 where it retries on a close).
          if (this.closed || (this.client._ws?.readyState ?? 1) >= 2) reject(this.closedError(label));
          else reject(protocolError(label, e));
        },
      );
    });
  }

  /** Closes the WebSocket; bounded, never throws. */
  async close(): Promise<void> {
    if (this.closed) return;
    debugTrace('closing the session');
    const done = this.client.close().catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise((r) => (timer = setTimeout(r, 1000)))]);
    clearTimeout(timer);
    if (!this.closed) this.client._ws?.terminate();
    this.markClosed('closed by nodetop');
    debugTrace('session closed');
  }
}

/**
 * "Cannot find context with specified id": the target destroyed its context, which Node does
 * when it exits with a client connected that did not ask to be told (a Node without
 * NodeRuntime, or the notice lost). Nothing else nodetop sends gets this answer: its calls run
 * in the one main context (remote objects that are gone get "Could not find object").
 * "Couldn't parse value object in call argument": V8 could not parse a probe's argument (JSON
 * nodetop made) in a context being torn down: seen once in 44 exits, a `gc` whose target ended
 * through its SIGTERM handler.
 */
function exitTell(e: unknown): boolean {
  const msg = (e as { response?: { message?: string } })?.response?.message;
  return typeof msg === 'string' && /^(Cannot find context with specified id|Couldn't parse value object in call argument)/.test(msg);
}

function protocolError(label: string, e: unknown): Error {
  const resp = (e as { response?: { message?: string } })?.response;
  const msg = resp?.message ?? (e instanceof Error ? e.message : String(e));
  return new ProbeFailedError(`${label} failed in the target: ${msg}`);
}

/** A call reached the target and failed there (not a timeout, not a closed socket). */
export class ProbeFailedError extends Error {
  override name = 'ProbeFailedError';
}

export interface EvaluateOptions extends CallOptions {
  /**
   * Send the probe as an expression with the command-line API (Runtime.evaluate) instead of as
   * a constant function (Runtime.callFunctionOn): only for a probe whose argument never changes
   * (identity), since each distinct expression stays compiled in the target for good.
   */
  commandLineApi?: boolean;
  /**
   * A probe called on every tick: compile it once per connection and call the compiled function
   * through its handle from then on (see probeHandle). Sending its source with each call made V8
   * compile it again each time: 0.25 ms of the target's CPU for the 7 KB sample, ~20 ms for the
   * 22 KB socket walk at 2,000 sockets (measured, Node 20).
   */
  keep?: boolean;
}

const receivers = new WeakMap<Sender, Promise<string>>();

/**
 * The receiver of Runtime.callFunctionOn: a handle on the command-line API's `require` (Node's
 * inspector gives it one), which the probe function gets as `this` and keeps using after the
 * evaluation that produced it. Asked once per connection with a constant expression; V8 drops
 * the handle when the connection closes. Where the command-line API has no require, globalThis
 * (the probe then needs process.getBuiltinModule).
 */
function requireHandle(sender: Sender, opts: CallOptions): Promise<string> {
  let id = receivers.get(sender);
  if (!id) {
    const ask = (expression: string): Promise<string | null> =>
      sender
        .send<{ result: { objectId?: string; type?: string } }>(
          'Runtime.evaluate',
          { expression, objectGroup: 'nodetop', includeCommandLineAPI: true, silent: true },
          { ...opts, label: 'a handle for the probes' },
        )
        .then((r) => (typeof r?.result?.objectId === 'string' ? r.result.objectId : null));
    id = ask(`typeof require === "function" ? require : globalThis${sourceUrl('require')}`).then((objectId) => {
      if (objectId === null) throw new ProbeFailedError('the target gave no handle to run probes on');
      return objectId;
    });
    receivers.set(sender, id);
    id.catch(() => receivers.delete(sender));
  }
  return id;
}

const kept = new WeakMap<Sender, Map<string, Promise<string | null>>>();

/** The call through a compiled probe's handle (a few bytes compiled per call), named for a debugger. */
const CALL_THROUGH_HANDLE = `function(a){return this(a);${sourceUrl('call')}}`;

/**
 * A handle on the probe's function, compiled once in the target and bound to the receiver
 * probes run on (requireHandle): a remote object in the connection's 'nodetop' object group,
 * so it lives only as long as the connection and leaves nothing behind in the target.
 */
function probeHandle(sender: Sender, probe: Probe<never, unknown>, opts: CallOptions): Promise<string | null> {
  let byProbe = kept.get(sender);
  if (!byProbe) kept.set(sender, (byProbe = new Map()));
  const source = probeFunction(probe);
  let id = byProbe.get(source);
  if (!id) {
    id = requireHandle(sender, opts).then(async (receiver) => {
      const r = await sender.send<{ result: { objectId?: string }; exceptionDetails?: unknown }>(
        'Runtime.callFunctionOn',
        {
          functionDeclaration: `function(){const f=(${source});const self=this;return function(arg){return f.call(self,arg);};}`,
          objectId: receiver,
          silent: true,
        },
        { ...opts, label: `compiling probe ${probe.name}` },
      );
      // an endpoint that gives no handle gets the probe's source with every call (null)
      return r.exceptionDetails || typeof r?.result?.objectId !== 'string' ? null : r.result.objectId;
    });
    byProbe.set(source, id);
    const map = byProbe;
    id.catch(() => map.delete(source));
  }
  return id;
}

/**
 * Runs a probe in the target and returns its value. The probe is wrapped so that nothing it
 * does can throw into the target, including a rejected promise (which would be an unhandled
 * rejection there); a failure comes back as a ProbeFailedError here.
 */
export async function evaluate<A, R>(
  sender: Sender,
  probe: Probe<A, R>,
  arg: A,
  opts: EvaluateOptions = {},
): Promise<R> {
  const label = opts.label ?? `probe ${probe.name}`;
  type Result = {
    result: { type: string; value?: unknown; description?: string };
    exceptionDetails?: { text?: string; exception?: { description?: string } };
  };
  const handle = opts.keep === true && opts.commandLineApi !== true ? await probeHandle(sender, probe as Probe<never, unknown>, opts) : null;
  const res = opts.commandLineApi === true
    ? await sender.send<Result>(
        'Runtime.evaluate',
        { expression: probeExpression(probe, arg), returnByValue: true, awaitPromise: probe.async, includeCommandLineAPI: true, silent: true },
        { ...opts, label },
      )
    : handle !== null
      ? await sender.send<Result>(
          'Runtime.callFunctionOn',
          {
            // the compiled probe is `this`: a few bytes to compile per call instead of the probe
            functionDeclaration: CALL_THROUGH_HANDLE,
            objectId: handle,
            arguments: [{ value: arg ?? null }],
            returnByValue: true,
            awaitPromise: probe.async,
            silent: true,
          },
          { ...opts, label },
        )
      : await sender.send<Result>(
          'Runtime.callFunctionOn',
          {
            functionDeclaration: probeFunction(probe),
            objectId: await requireHandle(sender, opts),
            arguments: [{ value: arg ?? null }],
            returnByValue: true,
            awaitPromise: probe.async,
            silent: true,
          },
          { ...opts, label },
        );
  if (res.exceptionDetails) {
    const d = res.exceptionDetails;
    throw new ProbeFailedError(`${label} threw in the target: ${d.exception?.description ?? d.text ?? 'unknown'}`);
  }
  const v = res.result.value as { [PROBE_ERROR_KEY]?: string } | undefined;
  if (v && typeof v === 'object' && PROBE_ERROR_KEY in v) {
    throw new ProbeFailedError(`${label} failed in the target: ${String(v[PROBE_ERROR_KEY]).split('\n')[0]}`);
  }
  return res.result.value as R;
}
