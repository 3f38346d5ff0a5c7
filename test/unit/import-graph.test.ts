// The source tree's import graph has no cycle (type-only imports included),
// and the daemon reaches the protocol package only by its name.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../support/daemon.js';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'static' ? [] : sources(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

const IMPORT = /^\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'/gm;

function specifiers(file: string): string[] {
  return [...readFileSync(file, 'utf8').matchAll(IMPORT)].map((m) => m[1]!);
}

function graph(files: string[]): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const f of files)
    g.set(
      f,
      specifiers(f)
        .filter((s) => s.startsWith('.'))
        .map((s) => resolve(dirname(f), s).replace(/\.js$/, '.ts')),
    );
  return g;
}

/** Every cycle found by a depth-first walk, as a list of repository paths. */
function cycles(g: Map<string, string[]>): string[][] {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (n: string): void => {
    state.set(n, 'open');
    stack.push(n);
    for (const m of g.get(n) ?? []) {
      if (state.get(m) === 'open') found.push([...stack.slice(stack.indexOf(m)), m].map((p) => relative(repoRoot, p)));
      else if (!state.has(m)) visit(m);
    }
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of g.keys()) if (!state.has(n)) visit(n);
  return found;
}

describe('import graph', () => {
  for (const tree of ['protocol/src', 'daemon/src']) {
    it(`${tree} has no import cycle`, () => {
      assert.deepEqual(cycles(graph(sources(join(repoRoot, tree)))), []);
    });
  }

  it('the daemon imports the protocol as vfio-user-ts, never by path', () => {
    const byPath = sources(join(repoRoot, 'daemon/src')).filter((f) => specifiers(f).some((s) => s.includes('protocol/')));
    assert.deepEqual(
      byPath.map((f) => relative(repoRoot, f)),
      [],
    );
  });
});
