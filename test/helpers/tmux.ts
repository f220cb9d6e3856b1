// A real terminal for the live view: tmux runs nodetop at a fixed size, send-keys types, and
// capture-pane reads the screen as text. A private tmux server per test process.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NODETOP } from './target';

const SOCKET = `nodetop-test-${process.pid}`;

function tmux(...args: string[]): string {
  return execFileSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8' });
}

export function haveTmux(): boolean {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export interface Terminal {
  screen(): string;
  /** The screen with its colours, as terminal escape sequences (`capture-pane -e`). */
  screenWithEscapes(): string;
  keys(...keys: string[]): void;
  resize(cols: number, rows: number): void;
  /** Waits until the screen matches, bounded; returns the screen. Fails with the screen shown. */
  waitFor(re: RegExp, boundMs?: number): Promise<string>;
  /** Every byte the pane received from nodetop so far (tmux pipe-pane), escapes and all. */
  raw(): Buffer;
  /** The exit code nodetop left, once it exits. */
  exitCode(boundMs?: number): Promise<number>;
  close(): void;
}

let n = 0;

export function openTerminal(args: string[], size: { cols: number; rows: number }, env: Record<string, string> = {}, cwd?: string): Terminal {
  const name = `t${n++}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-tui-'));
  const exitFile = path.join(dir, 'exit');
  const envs = Object.entries({ LANG: 'C.UTF-8', TERM: 'xterm-256color', ...env })
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(' ');
  const cmd = `env ${envs} ${JSON.stringify(process.execPath)} ${JSON.stringify(NODETOP)} ${args.map((a) => JSON.stringify(a)).join(' ')}; echo $? > ${JSON.stringify(exitFile)}; sleep 600`;
  tmux('new-session', '-d', '-s', name, '-x', String(size.cols), '-y', String(size.rows), ...(cwd ? ['-c', cwd] : []), cmd);
  const rawFile = path.join(dir, 'raw');
  tmux('pipe-pane', '-t', name, '-o', `cat >> ${JSON.stringify(rawFile)}`);
  const screen = (): string => tmux('capture-pane', '-p', '-t', name);
  return {
    raw: () => (fs.existsSync(rawFile) ? fs.readFileSync(rawFile) : Buffer.alloc(0)),
    screen,
    screenWithEscapes: () => tmux('capture-pane', '-p', '-e', '-t', name),
    keys(...keys) {
      tmux('send-keys', '-t', name, ...keys);
    },
    resize(cols, rows) {
      tmux('resize-window', '-t', name, '-x', String(cols), '-y', String(rows));
    },
    async waitFor(re, boundMs = 10_000) {
      const end = Date.now() + boundMs;
      let s = screen();
      while (!re.test(s) && Date.now() < end) {
        await new Promise((r) => setTimeout(r, 100));
        s = screen();
      }
      if (!re.test(s)) throw new Error(`screen never matched ${re}:\n${s}`);
      return s;
    },
    async exitCode(boundMs = 10_000) {
      const end = Date.now() + boundMs;
      while (Date.now() < end) {
        if (fs.existsSync(exitFile)) {
          const t = fs.readFileSync(exitFile, 'utf8').trim();
          if (t) return Number(t);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`nodetop did not exit:\n${screen()}`);
    },
    close() {
      try {
        tmux('kill-session', '-t', name);
      } catch {
        /* already gone */
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

process.on('exit', () => {
  try {
    execFileSync('tmux', ['-L', SOCKET, 'kill-server'], { stdio: 'ignore' });
  } catch {
    /* no server */
  }
});
