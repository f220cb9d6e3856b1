// Every exit path detaches. Commands register what must run before nodetop exits (detach,
// restore the terminal, remove a half-written file); Ctrl-C, SIGTERM, SIGHUP and the normal end
// of a command all run them, each bounded, in reverse order of registration.

type Cleanup = () => Promise<void> | void;

const cleanups = new Set<Cleanup>();
let installed = false;
let exiting = false;
let interruptSignal: NodeJS.Signals | null = null;

/** The signal that is ending nodetop, if one is: its handler detaches and exits (130, 143, 129). */
export function interruptedBy(): NodeJS.Signals | null {
  return interruptSignal;
}

export function onExit(fn: Cleanup): () => void {
  cleanups.add(fn);
  installSignalHandlers();
  return () => cleanups.delete(fn);
}

export async function runCleanups(boundMs = 3000): Promise<void> {
  const list = [...cleanups].reverse();
  cleanups.clear();
  for (const fn of list) {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([Promise.resolve().then(fn), new Promise((r) => (timer = setTimeout(r, boundMs)))]);
    } catch {
      /* a cleanup's failure must not stop the others */
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Set by the CLI: how to leave once cleanups are done (flush output, set the code). */
let exitHook: (code: number) => void = (code) => process.exit(code);
export function setExitHook(fn: (code: number) => void): void {
  exitHook = fn;
}

/** Listeners for an interruption, e.g. the TUI or a snapshot that wants to say what it was doing. */
const interruptListeners = new Set<(signal: NodeJS.Signals) => void>();
export function onInterrupt(fn: (signal: NodeJS.Signals) => void): () => void {
  interruptListeners.add(fn);
  return () => interruptListeners.delete(fn);
}

/**
 * Work the exit waits for before any cleanup runs, however long it takes: a snapshot V8 is
 * building freezes the target until it ends, and the inspector can be closed only after that. A
 * second signal stops the wait. Null: nothing held.
 */
let hold: { done: Promise<unknown>; release: () => void } | null = null;
export function holdExitUntil(work: Promise<unknown> | null): void {
  if (!work) {
    hold = null;
    return;
  }
  let release = (): void => undefined;
  const released = new Promise<void>((r) => (release = r));
  hold = { done: Promise.race([work.then(() => undefined, () => undefined), released]), release };
}

/** From the start of main: Ctrl-C at any moment runs the cleanups and exits 130, never the default kill. */
export function installSignalHandlers(): void {
  if (installed) return;
  installed = true;
  const handler = (signal: NodeJS.Signals): void => {
    if (exiting) {
      hold?.release();
      return;
    }
    exiting = true;
    interruptSignal = signal;
    for (const fn of interruptListeners) {
      try {
        fn(signal);
      } catch {
        /* keep going */
      }
    }
    const code = signal === 'SIGINT' ? 130 : signal === 'SIGTERM' ? 143 : 129;
    void (hold?.done ?? Promise.resolve()).then(() => runCleanups()).then(() => exitHook(code));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  process.on('SIGHUP', handler);
}
