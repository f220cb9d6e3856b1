// Which Node processes are launchers rather than apps: npm, npx, yarn, pnpm, nodemon and the pm2
// daemon are Node by their executable, so `nodetop stats <pid of npm start>` would otherwise
// report npm's own heap and loop. Decided from the command line alone (pure: the caller has
// already confirmed the executable is Node). Two shapes are recognised:
//  - the title the tool gives itself, which on Linux overwrites argv in /proc/<pid>/cmdline:
//    npm 7-11 shows "npm start" / "npm exec ..." (measured: npm 11.19 on Node 20), pnpm "pnpm",
//    pm2's daemon "PM2 v5.3.1: God Daemon (/root/.pm2)";
//  - Node running the tool's main script: .../npm/bin/npm-cli.js, .../yarn/bin/yarn.js,
//    .yarn/releases/yarn-4.1.0.cjs, .../pnpm/bin/pnpm.cjs, .../nodemon/bin/nodemon.js,
//    .../pm2/lib/Daemon.js, corepack's shims, or a bin link of the same name (node_modules/.bin/nodemon).
// A script of the same base name elsewhere (an app's own yarn.js) is not a wrapper: the package
// directory must match too, except for names no app would take (npm-cli.js, npx-cli.js).

export type WrapperKind = 'npm' | 'npx' | 'yarn' | 'pnpm' | 'nodemon' | 'pm2';

export interface Wrapper {
  kind: WrapperKind;
  /** How it was recognised, for people: its title or the script it runs. */
  via: string;
}

// Node options that take their value as the next argument (`node -r ts-node/register app.js`).
const VALUE_OPTIONS = new Set(['-r', '--require', '--import', '--loader', '--experimental-loader', '--title', '--env-file', '--inspect-port', '--conditions', '-C', '--input-type']);

/** The main script of a Node command line: the first argument that is not an option (null for -e, -p, a REPL). */
export function mainScript(argv: readonly string[]): string | null {
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '') continue; // what a title shorter than the old argv leaves behind
    if (a === '--') return argv[i + 1] ?? null;
    if (a === '-e' || a === '--eval' || a === '-p' || a === '--print' || a === '-') return null;
    if (a.startsWith('-')) {
      if (VALUE_OPTIONS.has(a)) i++;
      continue;
    }
    return a;
  }
  return null;
}

/** "a/b/c" split on / and \, without empty parts. */
function parts(p: string): string[] {
  return p.split(/[/\\]+/).filter(Boolean);
}

/** The wrapper a script path belongs to, or null. */
export function wrapperOfScript(script: string): WrapperKind | null {
  const ps = parts(script);
  const base = ps[ps.length - 1] ?? '';
  const dir = ps[ps.length - 2] ?? '';
  const pkg = ps[ps.length - 3] ?? '';
  // names no app takes, wherever they are
  if (base === 'npm-cli.js') return 'npm';
  if (base === 'npx-cli.js') return 'npx';
  if (/^pnpm\.c?js$|^pnpm\.mjs$/.test(base) && (pkg === 'pnpm' || pkg === '@pnpm')) return 'pnpm';
  // yarn 1 (yarn/bin/yarn.js, yarn/lib/cli.js) and yarn 2+ (.yarn/releases/yarn-4.1.0.cjs)
  if (/^yarn\.c?js$/.test(base) && pkg === 'yarn') return 'yarn';
  if (base === 'cli.js' && dir === 'lib' && pkg === 'yarn') return 'yarn';
  if (/^yarn-[\w.-]+\.c?js$/.test(base) && dir === 'releases' && pkg === '.yarn') return 'yarn';
  if (base === 'nodemon.js' && dir === 'bin' && pkg === 'nodemon') return 'nodemon';
  // pm2's daemon (God) and pm2-runtime, which runs God in its own process
  if (base === 'Daemon.js' && dir === 'lib' && pkg === 'pm2') return 'pm2';
  if ((base === 'pm2-runtime' || base === 'pm2-docker') && dir === 'bin' && pkg === 'pm2') return 'pm2';
  // corepack's shims: corepack/dist/npm.js, yarn.js, pnpm.js ...
  if (dir === 'dist' && pkg === 'corepack') {
    const m = /^(npm|npx|yarn|pnpm)\.c?js$/.exec(base);
    if (m) return m[1] as WrapperKind;
  }
  // a bin link run by Node through its shebang: /usr/bin/npm, node_modules/.bin/nodemon
  if (dir === 'bin' || dir === '.bin') {
    if (base === 'npm' || base === 'npx' || base === 'yarn' || base === 'yarnpkg' || base === 'pnpm' || base === 'pnpx' || base === 'nodemon') {
      return base === 'yarnpkg' ? 'yarn' : base === 'pnpx' ? 'pnpm' : base;
    }
    if (base === 'pm2-runtime' || base === 'pm2-docker') return 'pm2';
  }
  return null;
}

/** The wrapper a title (argv rewritten by process.title) names, or null. */
export function wrapperOfTitle(title: string): WrapperKind | null {
  if (/^PM2 v[\d.]+\S*: God Daemon\b/.test(title)) return 'pm2';
  const m = /^(npm|npx|yarn|pnpm|pnpx|nodemon)(?: |$)/.exec(title);
  if (!m) return null;
  return m[1] === 'pnpx' ? 'pnpm' : (m[1] as WrapperKind);
}

/**
 * Whether a Node process with this command line is a wrapper. `argv` is /proc/<pid>/cmdline split
 * on NULs; a title set by process.title is one element with spaces, or the first of several.
 */
export function classifyWrapper(argv: readonly string[]): Wrapper | null {
  const first = argv[0] ?? '';
  const byTitle = wrapperOfTitle(first);
  // argv[0] "npm" alone is also what a shebang launch leaves (`node /usr/bin/npm` keeps "node"
  // there, but `exec -a npm node x.js` does not): a title is taken only when no script names
  // something else, or when the title has spaces (Node writes a title over argv as one string).
  const script = mainScript(argv);
  const byScript = script === null ? null : wrapperOfScript(script);
  if (byScript) return { kind: byScript, via: script! };
  if (byTitle && (first.includes(' ') || script === null || argv.length === 1)) return { kind: byTitle, via: first.trim() };
  return null;
}
