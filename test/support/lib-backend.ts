// Builds the test backend library (test/fixtures/lib-backend.c, its
// registers documented there) for --backend lib:PATH.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './daemon.js';

/** Compiles the fixture into `dir/name.so` with `-D` for each of `defines`; returns the path. */
export function buildLibBackend(dir: string, name: string, defines: string[] = []): string {
  const out = join(dir, `${name}.so`);
  execFileSync('gcc', [
    '-shared',
    '-fPIC',
    '-O1',
    '-Wall',
    '-Werror',
    ...defines.map((d) => `-D${d}`),
    '-I',
    join(repoRoot, 'native/include'),
    '-o',
    out,
    join(repoRoot, 'test/fixtures/lib-backend.c'),
  ]);
  return out;
}
