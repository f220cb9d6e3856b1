// The trigger engine of `nodetop watch --when ... --then ...`: which trigger fires on which
// sample, given the limits. Pure (no I/O, no clock of its own): the watch loop feeds it every
// sample with the time, runs the actions of a firing it returns, and says when they ended.
//
// - A trigger's condition (src/model/trigger.ts) sees every sample of every target, each target
//   with its own windows.
// - Actions run one at a time, over all triggers and targets: while a firing's actions run, a
//   condition that holds waits (its window goes on), and fires on the first sample after they
//   end if it still holds.
// - After a firing, that trigger's windows start again (it must hold anew for its "for"), and
//   it does not fire on that target within --cooldown of its actions' end.
// - --max-actions counts firings that run actions (each runs every --then of its trigger, in
//   order). Once spent, nothing more runs; with --keep-watching, firings are still reported,
//   with their actions skipped.

import { Condition, ConditionError } from './trigger';
import type { Sample } from './sample';

export type Action =
  | { kind: 'snapshot'; text: string; /** null: the main thread; 'tripped': the worker the condition named */ worker: number | 'tripped' | null }
  | { kind: 'profile'; text: string; durationMs: number }
  | { kind: 'gc'; text: string }
  | { kind: 'stats'; text: string }
  | { kind: 'exec'; text: string; argv: string[] };

/** `profile` without a duration profiles as long as `nodetop profile` does by default. */
export const DEFAULT_PROFILE_MS = 5000;
/** The longest `profile DURATION` an action may take: it holds every other action meanwhile. */
export const MAX_PROFILE_MS = 600_000;

export class ActionError extends Error {}

/**
 * Words as a shell would split them, without expanding anything: spaces separate, '...' is
 * literal, "..." allows \" and \\, a backslash outside quotes escapes the next character.
 */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw new ActionError(`the quote at position ${i + 1} is not closed`);
      cur += text.slice(i + 1, end);
      i = end;
      inWord = true;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < text.length && text[j] !== '"'; j++) {
        if (text[j] === '\\' && (text[j + 1] === '"' || text[j + 1] === '\\')) j++;
        cur += text[j];
      }
      if (j >= text.length) throw new ActionError(`the quote at position ${i + 1} is not closed`);
      i = j;
      inWord = true;
    } else if (c === '\\' && i + 1 < text.length) {
      cur += text[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

function durationMs(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|min|h)?$/.exec(text);
  if (!m) return null;
  const mult = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000 }[m[2] ?? 's']!;
  return Math.round(Number(m[1]) * mult);
}

const ACTIONS = 'snapshot, snapshot worker [N], profile [DURATION], gc, stats, exec COMMAND [ARGS...]';

/** One --then. Throws ActionError with one sentence for anything else. */
export function parseAction(text: string): Action {
  const trimmed = text.trim();
  const [verb = '', ...rest] = trimmed.split(/\s+/);
  switch (verb.toLowerCase()) {
    case 'snapshot': {
      if (rest.length === 0 || (rest.length === 1 && rest[0] === 'main')) return { kind: 'snapshot', text: trimmed, worker: null };
      if (rest[0] === 'worker' && rest.length === 1) return { kind: 'snapshot', text: trimmed, worker: 'tripped' };
      if (rest[0] === 'worker' && rest.length === 2 && /^[1-9]\d{0,9}$/.test(rest[1]!)) return { kind: 'snapshot', text: trimmed, worker: Number(rest[1]) };
      throw new ActionError(`"${trimmed}": expected snapshot, snapshot main, snapshot worker (the worker the condition named) or snapshot worker N (a threadId)`);
    }
    case 'profile': {
      if (rest.length === 0) return { kind: 'profile', text: trimmed, durationMs: DEFAULT_PROFILE_MS };
      const ms = rest.length === 1 ? durationMs(rest[0]!) : null;
      if (ms === null || ms < 100 || ms > MAX_PROFILE_MS) {
        throw new ActionError(`"${trimmed}": expected profile or profile DURATION, a duration from 100ms to 10m such as 10s`);
      }
      return { kind: 'profile', text: trimmed, durationMs: ms };
    }
    case 'gc':
    case 'stats':
      if (rest.length > 0) throw new ActionError(`"${trimmed}": ${verb.toLowerCase()} takes nothing after it`);
      return { kind: verb.toLowerCase() as 'gc' | 'stats', text: trimmed };
    case 'exec': {
      const argv = splitWords(trimmed.slice(verb.length));
      if (argv.length === 0 || argv[0] === '') throw new ActionError(`"${trimmed}": exec needs a command to run, such as exec ./page-oncall.sh`);
      return { kind: 'exec', text: trimmed, argv };
    }
    default:
      throw new ActionError(`${JSON.stringify(trimmed)} is not an action; the actions are ${ACTIONS}`);
  }
}

export interface TriggerSpec {
  /** 1-based, in the order of the command line: files and events name it t1, t2, ... */
  index: number;
  when: string;
  actions: Action[];
}

export interface Limits {
  /** Firings that run actions, over the whole run. */
  maxActions: number;
  cooldownMs: number;
  /** After the budget is spent, still report firings (their actions skipped). */
  keepWatching: boolean;
}

export interface Firing {
  trigger: number;
  when: string;
  pid: number;
  /** The sample's time (ISO). */
  time: string;
  /** The readings the condition used. */
  values: Record<string, number | null>;
  /** The worker a worker comparison tripped on, or null. */
  threadId: number | null;
  actions: Action[];
  /** 1-based number of the firings that ran actions; null for one that runs none. */
  number: number | null;
  /** Why its actions do not run: the budget is spent (--keep-watching). */
  skipped: 'budget' | null;
}

/** Parses every --when; a bad one throws ConditionError naming the trigger's text. */
export function checkTriggers(specs: TriggerSpec[]): void {
  for (const s of specs) new Condition(s.when);
}

export class TriggerEngine {
  private conditions = new Map<string, Condition>();
  private cooldownUntil = new Map<string, number>();
  private used = 0;
  /** A firing's actions are running: from the sample that fired to end(). */
  private running = false;

  constructor(
    readonly specs: TriggerSpec[],
    readonly limits: Limits,
  ) {}

  /** Whether any condition reads worker rows (the sampler then reads workers). */
  get readsWorkers(): boolean {
    return this.specs.some((s) => new Condition(s.when).readsWorkers);
  }

  get busy(): boolean {
    return this.running;
  }

  /** Every firing allowed has run its actions. */
  get spent(): boolean {
    return this.used >= this.limits.maxActions;
  }

  get actionsRun(): number {
    return this.used;
  }

  private condition(spec: TriggerSpec, pid: number): Condition {
    const key = `${spec.index}/${pid}`;
    let c = this.conditions.get(key);
    if (!c) {
      c = new Condition(spec.when);
      this.conditions.set(key, c);
    }
    return c;
  }

  /**
   * One sample of `pid`. Returns what fires on it: at most one firing that runs actions, and
   * any firings that run none. `nowMs` is nodetop's clock (cooldowns); windows use the sample's.
   */
  observe(pid: number, s: Sample, nowMs: number): Firing[] {
    const out: Firing[] = [];
    const t = Date.parse(s.time);
    const sampleMs = Number.isFinite(t) ? t : nowMs;
    let actionTaken = false;
    for (const spec of this.specs) {
      const cond = this.condition(spec, pid);
      const v = cond.observe(s, sampleMs);
      if (!v.holds) continue;
      const key = `${spec.index}/${pid}`;
      if (nowMs < (this.cooldownUntil.get(key) ?? -Infinity)) continue;
      const base = { trigger: spec.index, when: spec.when, pid, time: s.time, values: v.values, threadId: v.threadId, actions: spec.actions };
      if (spec.actions.length === 0) {
        cond.reset();
        this.cooldownUntil.set(key, nowMs + this.limits.cooldownMs);
        out.push({ ...base, number: null, skipped: null });
        continue;
      }
      if (this.spent) {
        if (!this.limits.keepWatching) continue;
        cond.reset();
        this.cooldownUntil.set(key, nowMs + this.limits.cooldownMs);
        out.push({ ...base, number: null, skipped: 'budget' });
        continue;
      }
      // one firing's actions at a time: a condition that holds meanwhile waits for them
      if (this.running || actionTaken) continue;
      actionTaken = true;
      cond.reset();
      // taken now, not when the caller starts them: a sample of another target that comes
      // before the actions start must find them running
      this.running = true;
      this.used++;
      out.push({ ...base, number: this.used, skipped: null });
    }
    return out;
  }

  /** The firing's actions have ended (whatever their results): its cooldown starts now. */
  end(f: Firing, nowMs: number): void {
    if (f.number === null) return;
    this.running = false;
    this.cooldownUntil.set(`${f.trigger}/${f.pid}`, nowMs + this.limits.cooldownMs);
  }
}

export { ConditionError };
