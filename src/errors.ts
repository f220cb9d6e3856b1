// Failures a user can cause are NodetopErrors: one sentence, an optional hint, a documented
// exit code, never a stack. Anything else that escapes is a bug in nodetop and the CLI prints
// its stack with a request to report it (the policy dotnet-counters writes down).
//
// The numbers are part of the interface: scripts and runbooks branch on them. They are listed
// in the README; change them only with a CHANGELOG entry.

export const ExitCode = {
  Ok: 0,
  Bug: 1,
  Usage: 2,
  NoSuchProcess: 3,
  NotNode: 4,
  PermissionDenied: 5,
  InspectorUnavailable: 6,
  EndpointFailed: 7,
  TargetExited: 8,
  TargetNotResponding: 9,
  WrongProcess: 10,
  RefusedUnsafe: 11,
  OutputFailed: 12,
  /** watch --when/--then: every firing --max-actions allowed has run its actions (not a failure). */
  BudgetSpent: 13,
  /** Not signalled: the inspector a SIGUSR1 would open could not be guaranteed closed again. */
  NotSignalled: 14,
  /** The target's inspector would be in a network namespace nodetop cannot enter; nothing was sent. */
  NamespaceUnreachable: 15,
  Interrupted: 130,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export class NodetopError extends Error {
  readonly exitCode: ExitCodeValue;
  readonly hint: string | undefined;
  constructor(message: string, opts: { exitCode: ExitCodeValue; hint?: string; cause?: unknown }) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'NodetopError';
    this.exitCode = opts.exitCode;
    this.hint = opts.hint;
  }
}

export function isNodetopError(e: unknown): e is NodetopError {
  return e instanceof NodetopError;
}

/** errno code of a Node system error, or undefined. */
export function errnoCode(e: unknown): string | undefined {
  if (e && typeof e === 'object' && 'code' in e && typeof (e as { code: unknown }).code === 'string') {
    return (e as { code: string }).code;
  }
  return undefined;
}

/** Why a file given to read could not be read, in a few words (heap snapshots, recordings). */
export function describeReadError(e: unknown): string {
  switch (errnoCode(e)) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a directory';
    case 'ENOTDIR':
      return 'a part of the path is not a directory';
    default:
      return e instanceof Error ? e.message : String(e);
  }
}
