// The POSIX platform implementation that macOS runs (native/platform/
// platform_posix.cc, with the portable build's guarded copy) has its own
// test program: XNU's fstat result for a POSIX shm fd injected
// (pvg-on-a-mac.md finding 3), close-on-exec and non-blocking fds from
// socket/accept/recvmsg, pipes as interrupt fds, fault-safe copies over a
// shrunk file. Compiled here with g++, run, and every case must pass.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const MIN_CASES = 7;

describe('platform_posix.cc (C++ unit tests)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'platform-portable-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const exe = join(dir, 'platform_test');

  it('compiles with g++ -Wall -Wextra -Werror', () => {
    const p = (f: string): string => join(root, 'native/platform', f);
    execFileSync(
      'g++',
      [
        '-std=c++17',
        '-O1',
        '-Wall',
        '-Wextra',
        '-Werror',
        '-pthread',
        '-I',
        join(root, 'native/include'),
        '-I',
        join(root, 'native'),
        p('platform_test.cc'),
        p('platform_common.cc'),
        p('platform_posix.cc'),
        p('platform_guarded_copy.cc'),
        '-o',
        exe,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
  });

  it('passes every case', () => {
    const run = spawnSync(exe, [], { encoding: 'utf8', timeout: 60_000 });
    const out = `${run.stdout ?? ''}${run.stderr ?? ''}`;
    assert.deepEqual(
      out.split('\n').filter((l) => l.startsWith('not ok')),
      [],
      out,
    );
    const summary = /^(\d+) passed, (\d+) failed$/m.exec(out);
    assert.ok(summary, `no summary line in:\n${out}`);
    assert.equal(Number(summary[2]), 0, out);
    assert.ok(Number(summary[1]) >= MIN_CASES, out);
    assert.equal(run.status, 0, `exit status ${run.status} (signal ${run.signal}):\n${out}`);
  });
});
