// The pvg backend's framework-independent C++ (native/pvg/portable/) runs its
// own test program: compiled here with g++ (no Apple headers), run, and every
// case must pass. A failing C++ case fails this test with its TAP line.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const portable = join(root, 'native/pvg/portable');
const MIN_CASES = 20;

describe('pvg portable logic (C++ unit tests)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pvg-portable-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const exe = join(dir, 'portable_test');

  it('compiles with g++ -Wall -Wextra -Werror and no Apple headers', () => {
    const sources = readdirSync(portable)
      .filter((f) => f.endsWith('.cc'))
      .map((f) => join(portable, f));
    assert.ok(
      sources.some((s) => s.endsWith('portable_test.cc')),
      'portable_test.cc is missing',
    );
    execFileSync('g++', ['-std=c++17', '-O1', '-Wall', '-Wextra', '-Werror', '-I', join(root, 'native/include'), ...sources, '-o', exe], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  });

  it('passes every case', () => {
    const run = spawnSync(exe, [], { encoding: 'utf8', timeout: 60_000 });
    const out = `${run.stdout ?? ''}${run.stderr ?? ''}`;
    const failing = out.split('\n').filter((l) => l.startsWith('not ok'));
    assert.deepEqual(failing, [], `failing C++ cases:\n${out}`);
    const summary = /^(\d+) passed, (\d+) failed$/m.exec(out);
    assert.ok(summary, `no summary line in:\n${out}`);
    const [passed, failed] = [Number(summary[1]), Number(summary[2])];
    assert.equal(failed, 0, out);
    assert.ok(passed >= MIN_CASES, `only ${passed} cases ran (expected at least ${MIN_CASES}):\n${out}`);
    assert.equal(run.status, 0, `exit status ${run.status}:\n${out}`);
  });
});
