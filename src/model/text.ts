// Text from a target or a file (titles, argv, Error messages, handle types, constructor names,
// hostnames) made safe to print. Pure. One rule for every output path, in two strengths:
//
// - printable(): a field inside nodetop's own layout. Every control and invisible format
//   character becomes a space: a line stays one line, an escape sequence (ESC, or the 8-bit CSI
//   U+009B) cannot drive the terminal, a bidi override (U+202E, U+2066-2069) cannot make text
//   read in another order than it is printed.
// - terminalSafe(): the last step before bytes leave nodetop (stdout, stderr). Whatever a field
//   forgot becomes a visible \uXXXX escape; newlines stay. On JSON this changes no value: such
//   characters can only occur inside JSON strings, where \uXXXX is the same character.

/**
 * Cc: C0 controls, DEL, C1 controls. Cf: invisible format characters (bidi marks, embeddings,
 * overrides and isolates, zero-width characters, soft hyphen, BOM, tag characters). Zl, Zp:
 * line and paragraph separators. Cs: a lone surrogate (not a character at all).
 */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;
const UNSAFE_BUT_NEWLINE = /(?!\n)[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;

export function printable(text: unknown): string {
  return String(text).replace(UNSAFE, ' ');
}

/** True when printable() would change the text. */
export function hasUnsafeText(text: string): boolean {
  UNSAFE.lastIndex = 0;
  const found = UNSAFE.test(text);
  UNSAFE.lastIndex = 0;
  return found;
}

function escapeUnits(c: string): string {
  let out = '';
  for (let i = 0; i < c.length; i++) out += `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`;
  return out;
}

/** Output as it goes to a terminal or a pipe: lines kept, every other control made visible. */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE_BUT_NEWLINE, escapeUnits);
}
