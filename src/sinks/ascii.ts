// Text for a terminal whose locale is not UTF-8 (LANG=C, or no locale at all, as in many
// containers): such a terminal shows each byte of a UTF-8 character as `?`, so `…` and `’` in
// nodetop's sentences and `µs` in its units came out as `?`, `??`. The symbols nodetop writes
// itself get an ASCII spelling; any other non-ASCII character (a target's title in another
// script) becomes a \uXXXX escape, which is the same character inside a JSON string.

const SPELLING: Record<string, string> = {
  '…': '...',
  '’': "'",
  '‘': "'",
  '“': '"',
  '”': '"',
  '—': '--',
  '–': '-',
  '−': '-',
  '→': '->',
  '←': '<-',
  '↑': '^',
  '↓': 'v',
  'µ': 'u',
  'μ': 'u',
  'Δ': 'd',
  '×': 'x',
  '≤': '<=',
  '≥': '>=',
  '±': '+-',
  '·': '.',
  ' ': ' ',
};

/** True when the locale the environment names is UTF-8 (LC_ALL, else LC_CTYPE, else LANG). */
export function utf8Locale(env: NodeJS.ProcessEnv = process.env): boolean {
  const loc = env.LC_ALL || env.LC_CTYPE || env.LANG || '';
  return /utf-?8/i.test(loc);
}

/** The text in ASCII: nodetop's symbols spelled out, anything else escaped as \uXXXX. */
export function toAscii(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[^\x00-\x7f]/gu, (c) => SPELLING[c] ?? [...c].map((u) => `\\u${u.charCodeAt(0).toString(16).padStart(4, '0')}`).join(''));
}

/** The text as this environment's terminal can show it. */
export function forLocale(text: string, env: NodeJS.ProcessEnv = process.env): string {
  return utf8Locale(env) ? text : toAscii(text);
}
