// The one sanitizer (src/model/text.ts): printable() leaves no control or invisible format
// character in a field, terminalSafe() none but newlines in output, and neither loses anything
// from JSON: parsing the sanitized JSON gives back the same value.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { printable, terminalSafe } from '../../src/model/text';
import { escapeLabelValue } from '../../src/sinks/prometheus';
import { outText } from '../../src/sinks/terminal';

const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;
const UNSAFE_BUT_NEWLINE = /(?!\n)[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;

const hostile = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc.string({ unit: fc.constantFrom('\x1b', '[', '2', 'J', ']', '\x07', '\u009b', '\u0085', '\u202e', '\u2066', '\u2069', '\u200e', '\u200f', '\u200b', '\u061c', '\ufeff', '\u2028', '\ud800', 'a', '\n', '\t', '\r') }),
);

describe('the sanitizer', () => {
  it('known attacks: a screen clear, OSC 52, 8-bit CSI, bidi overrides, isolates and marks', () => {
    assert.equal(printable('a\x1b[2Jb'), 'a [2Jb');
    assert.equal(printable('\x1b]52;c;aGk=\x07'), ' ]52;c;aGk= ');
    assert.equal(printable('\u009b31m\u202eevil\u2066\u2069\u200e\u200f\u061c'), ' 31m evil     ');
    assert.equal(printable('tag\u{E0041}'), 'tag '); // an astral format character: one space
    assert.equal(terminalSafe('a\x1bb\nc\u202e'), 'a\\u001bb\nc\\u202e');
    assert.equal(terminalSafe('\u{E0041}'), '\\udb40\\udc41');
  });

  it('ordinary text passes unchanged: accents, CJK, emoji, arrows', () => {
    for (const s of ['café', '日本語', '🚀 up', 'count a → b', 'size Δ', '… 3 more']) {
      assert.equal(printable(s), s);
      assert.equal(terminalSafe(s), s);
    }
  });

  it('property: printable leaves nothing unsafe, terminalSafe nothing but newlines', () => {
    fc.assert(
      fc.property(hostile, (s) => {
        assert.doesNotMatch(printable(s), UNSAFE);
        assert.doesNotMatch(terminalSafe(s), UNSAFE_BUT_NEWLINE);
        assert.doesNotMatch(outText(s), UNSAFE_BUT_NEWLINE);
        assert.doesNotMatch(escapeLabelValue(s), UNSAFE);
      }),
      { numRuns: 2000 },
    );
  });

  it('property: JSON through terminalSafe parses to the same value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), hostile, (v, s) => {
        const value = { v, s, list: [s, s] };
        const text = terminalSafe(JSON.stringify(value));
        assert.doesNotMatch(text, UNSAFE);
        assert.deepEqual(JSON.parse(text), JSON.parse(JSON.stringify(value)));
      }),
      { numRuns: 1000 },
    );
  });
});
