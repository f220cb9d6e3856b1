// The top-functions summary of a CPU profile, on hand-made profiles whose times are known.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { checkProfile, collapsedStacks, renderProfileSummary, sampleWeightsUs, summarizeProfile, type CpuProfile, type ProfileNode } from '../../src/model/profile';
import { defaultBaseName, resolveOutputPath } from '../../src/platform/outfile';
import { parseCommandLine } from '../../src/cli';
import { NodetopError } from '../../src/errors';

function node(id: number, functionName: string, line: number, children: number[] = [], url = 'file:///app/x.js'): ProfileNode {
  return { id, callFrame: { functionName, scriptId: url ? '7' : '0', url, lineNumber: line, columnNumber: 4 }, hitCount: 0, children };
}

// (root) -> main -> a -> b
//                  a -> a (recursion) -> b
//           main -> b            (same function b, another path)
// (root) -> (idle)
const tree: ProfileNode[] = [
  node(1, '(root)', -1, [2, 6], ''),
  node(2, 'main', 0, [3, 5]),
  node(3, 'a', 10, [4, 7]),
  node(4, 'b', 20),
  node(5, 'b', 20),
  node(6, '(idle)', -1, [], ''),
  node(7, 'a', 10, [8]),
  node(8, 'b', 20),
];
// ticks at 1,2,3,4,7,8,9,10,11,12 ms; end at 13 ms: sample 3 (main) stands for 3 ms, the others 1 ms
const profile: CpuProfile = {
  nodes: tree,
  startTime: 1_000_000,
  endTime: 1_013_000,
  samples: [4, 4, 5, 2, 6, 6, 7, 8, 3, 4],
  timeDeltas: [1000, 1000, 1000, 1000, 3000, 1000, 1000, 1000, 1000, 1000],
};

describe('cpu profile summary', () => {
  it('weighs each sample by the time until the next one, the last until endTime', () => {
    assert.deepEqual(sampleWeightsUs(profile), [1000, 1000, 1000, 3000, 1000, 1000, 1000, 1000, 1000, 1000]);
  });

  it('sums self time per function across call paths and total time once per sample under recursion', () => {
    const s = summarizeProfile(profile);
    assert.equal(s.samples, 10);
    assert.equal(s.durationMs, 13);
    const rows = s.functions.map((f) => [f.function, f.line, f.selfMs, f.totalMs]);
    assert.deepEqual(rows, [
      ['b', 21, 5, 5], // nodes 4, 5, 8
      ['main', 1, 3, 10], // everything but (idle)
      ['a', 11, 2, 6], // node 3's subtree; the recursive node 7 is not counted twice
    ]);
    assert.equal(s.runtime.idleMs, 2); // a line of its own, not a function
    assert.equal(s.runtime.idlePercent, 16.7);
    assert.equal(s.sampledMs, 12);
    const b = s.functions[0]!;
    assert.equal(b.url, 'file:///app/x.js');
    assert.equal(b.selfPercent, 41.7); // 5 of 12 ms sampled
    assert.equal(s.functions[1]!.totalPercent, 83.3);
    assert.ok(!s.functions.some((f) => f.function === '(root)'));
  });

  it('puts nodetop\'s instruments and the Node-internal frames that ran only them apart from the target\'s functions', () => {
    // (root) -> observerCallback (node:) -> nodetopGcObserver          nodetop's (Node's GC hook)
    //        -> processTimers (node:)   -> handler (the target's)      the target's
    //        -> (garbage collector), (program)
    const p: CpuProfile = {
      nodes: [
        node(1, '(root)', -1, [2, 4, 6, 7], ''),
        node(2, 'observerCallback', 30, [3], 'node:internal/perf/observe'),
        node(3, 'nodetopGcObserver', 0, [], ''),
        node(4, 'processTimers', 500, [5], 'node:internal/timers'),
        node(5, 'handler', 5),
        node(6, '(garbage collector)', -1, [], ''),
        node(7, '(program)', -1, [], ''),
      ],
      startTime: 0,
      endTime: 7000,
      samples: [2, 3, 4, 5, 5, 6, 7],
      timeDeltas: [0, 1000, 1000, 1000, 1000, 1000, 1000],
    };
    p.nodes[2]!.callFrame.scriptId = '99';
    const s = summarizeProfile(p);
    assert.deepEqual(s.functions.map((f) => [f.function, f.selfMs, f.totalMs]), [
      ['handler', 2, 2],
      ['processTimers', 1, 3],
    ]);
    assert.deepEqual([s.runtime.nodetopMs, s.runtime.gcMs, s.runtime.programMs, s.runtime.idleMs], [2, 1, 1, 0]);
    assert.equal(
      collapsedStacks(p),
      ['processTimers node:internal/timers:501 1', 'processTimers node:internal/timers:501;handler /app/x.js:6 2', '(garbage collector) 1', '(program) 1', ''].join('\n'),
    );
  });

  it('keeps two functions of the same name defined in different places apart', () => {
    const p: CpuProfile = {
      nodes: [node(1, '(root)', -1, [2, 3], ''), node(2, 'handler', 5), node(3, 'handler', 5, [], 'file:///app/y.js')],
      startTime: 0,
      endTime: 4000,
      samples: [2, 3, 3],
      timeDeltas: [1000, 1000, 1000],
    };
    p.nodes[2]!.callFrame.scriptId = '8';
    const s = summarizeProfile(p);
    assert.deepEqual(
      s.functions.map((f) => [f.url, f.selfMs]),
      [
        ['file:///app/y.js', 2],
        ['file:///app/x.js', 1],
      ],
    );
  });

  it('names anonymous functions and ignores samples of unknown nodes', () => {
    const p: CpuProfile = {
      nodes: [node(1, '(root)', -1, [2], ''), node(2, '', 3)],
      startTime: 0,
      endTime: 4000,
      samples: [2, 99, 2],
      timeDeltas: [1000, 1000, 1000],
    };
    const s = summarizeProfile(p);
    assert.equal(s.functions.length, 1);
    assert.equal(s.functions[0]!.function, '(anonymous)');
    assert.equal(s.functions[0]!.selfMs, 2);
    assert.equal(s.functions[0]!.selfPercent, 100);
  });

  it('summarizes a profile without samples as no functions', () => {
    const s = summarizeProfile({ nodes: [node(1, '(root)', -1, [], '')], startTime: 5, endTime: 5 });
    assert.deepEqual(s.functions, []);
    assert.equal(s.samples, 0);
  });

  it('renders the top rows and says how many more there are', () => {
    const text = renderProfileSummary(summarizeProfile(profile), 2, 'file:///app/');
    const lines = text.split('\n');
    assert.equal(lines.length, 6);
    assert.match(lines[0]!, /^not the program's functions: idle 2\.0 ms \(16\.7%\), native \(program\) 0\.0 ms \(0\.0%\), GC 0\.0 ms \(0\.0%\), nodetop's instruments 0\.0 ms \(0\.0%\)$/);
    assert.match(lines[3]!, /^\s+5\.0\s+41\.7%\s+5\.0\s+41\.7%\s+b x\.js:21$/);
    assert.match(lines[4]!, /main x\.js:1$/);
    assert.match(lines[5]!, /1 more functions/);
  });

  it('rejects what is not a profile', () => {
    assert.throws(() => checkProfile(null), /not a CPU profile/);
    assert.throws(() => checkProfile({ nodes: [], startTime: 0, endTime: 1 }), /no nodes/);
    assert.throws(() => checkProfile({ nodes: [{ id: 1 }], startTime: 0, endTime: 1 }), /callFrame/);
    checkProfile(profile);
  });
});

describe('output file names', () => {
  it('builds the default name from the title, the pid and the UTC time', () => {
    const when = new Date(Date.UTC(2026, 10, 24, 3, 19, 18, 123));
    assert.equal(defaultBaseName('node', 42, when), 'node-42-20261124T031918Z');
    assert.equal(defaultBaseName('/usr/bin/my app --flag', 42, when), 'my-42-20261124T031918Z');
    assert.equal(defaultBaseName('api:ser$ver', 7, when), 'api_ser_ver-7-20261124T031918Z');
    assert.equal(defaultBaseName('', 7, when), 'node-7-20261124T031918Z');
  });

  it('puts the default name in the current directory, or in a directory given with -o', () => {
    assert.equal(resolveOutputPath(undefined, 'n.cpuprofile', '/srv'), '/srv/n.cpuprofile');
    assert.equal(resolveOutputPath('out/p.cpuprofile', 'n.cpuprofile', '/srv'), '/srv/out/p.cpuprofile');
    assert.equal(resolveOutputPath('/tmp', 'n.cpuprofile', '/srv'), '/tmp/n.cpuprofile');
    assert.equal(resolveOutputPath('nowhere/', 'n.cpuprofile', '/srv'), '/srv/nowhere/n.cpuprofile');
    assert.equal(resolveOutputPath('x', 'n.cpuprofile', '/tmp'), '/tmp/x');
    assert.equal(resolveOutputPath('', 'n.cpuprofile', '/srv'), '/srv/n.cpuprofile');
  });
});

describe('profile command line', () => {
  it('parses the defaults and the options', () => {
    assert.deepEqual(parseCommandLine(['profile', '12']), {
      command: 'profile',
      pid: 12,
      durationMs: 5000,
      intervalUs: 1000,
      top: 15,
      format: 'cpuprofile',
      json: false,
      common: { timeoutMs: 5000, allowRemote: false, keepInspector: false, forceSignal: false, followChild: false },
    });
    const inv = parseCommandLine(['profile', '12', '--duration', '2s', '--interval-us', '250', '--top', '3', '-o', 'x.cpuprofile', '--json']);
    assert.equal(inv.command, 'profile');
    if (inv.command === 'profile') {
      assert.equal(inv.durationMs, 2000);
      assert.equal(inv.intervalUs, 250);
      assert.equal(inv.top, 3);
      assert.equal(inv.output, 'x.cpuprofile');
      assert.equal(inv.json, true);
    }
  });

  it('rejects bad durations, intervals and counts as usage errors', () => {
    for (const [argv, msg] of [
      [['profile', '12', '--duration', 'soon'], /--duration must be a duration/],
      [['profile', '12', '--duration', '50ms'], /--duration must be between 100 ms/],
      [['profile', '12', '--interval-us', '1.5'], /--interval-us must be a whole number/],
      [['profile', '12', '--interval-us', '5'], /--interval-us must be between 10 and/],
      [['profile', '12', '--top', '0'], /--top must be between 1 and/],
      [['profile'], /give the pid/],
    ] as Array<[string[], RegExp]>) {
      assert.throws(
        () => parseCommandLine(argv),
        (e: unknown) => e instanceof NodetopError && e.exitCode === 2 && msg.test(e.message),
        argv.join(' '),
      );
    }
  });
});
