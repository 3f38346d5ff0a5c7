// Every comment that cites the design cites docs/design.md, and every
// invariant, pitfall or section (docs/design.md, "Threads and locks") it
// names exists there. A citation of the old
// out-of-tree DESIGN.md, a bare "(P7)" or "see P7", or "invariant 9" when
// design.md has six fails here, with the file and line.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === 'apple-gfxd') return dir;
    } catch {
      // not here; go up
    }
    const up = resolve(dir, '..');
    if (up === dir) throw new Error('repository root (package.json "apple-gfxd") not found');
    dir = up;
  }
}

const root = repoRoot();
const design = readFileSync(join(root, 'docs/design.md'), 'utf8');

/**
 * What docs/design.md defines: invariant numbers ("1. **...**" under
 * Invariants), pitfalls ("**P7 — ...**"), and named sections (headings, and
 * paragraphs that open with a bold "**Name.**").
 */
export function definedCitations(text: string): { invariants: Set<number>; pitfalls: Set<number>; sections: Set<string> } {
  const invariants = new Set<number>();
  const pitfalls = new Set<number>();
  const sections = new Set<string>();
  const inv = /^## Invariants\n([\s\S]*?)^## /m.exec(text);
  for (const m of (inv?.[1] ?? '').matchAll(/^(\d+)\. \*\*/gm)) invariants.add(Number(m[1]));
  for (const m of text.matchAll(/^- \*\*P(\d+) — /gm)) pitfalls.add(Number(m[1]));
  for (const m of text.matchAll(/^#+ (.+)$/gm)) sections.add(m[1]!.trim());
  for (const m of text.matchAll(/^\*\*([^*]+?)\.\*\*/gm)) sections.add(m[1]!.trim());
  return { invariants, pitfalls, sections };
}

interface Finding {
  where: string;
  problem: string;
}

/** Problems with the citations on one line of a source file. */
export function checkLine(line: string, where: string, defined: ReturnType<typeof definedCitations>): Finding[] {
  const out: Finding[] = [];
  if (/(?<!docs\/)DESIGN\.md/.test(line) || /(?<![\w/])design\.md (invariant|P\d)/.test(line)) {
    out.push({ where, problem: 'cites a design file other than docs/design.md' });
  }
  for (const m of line.matchAll(/docs\/design\.md invariants? (\d+)/g)) {
    if (!defined.invariants.has(Number(m[1]))) out.push({ where, problem: `invariant ${m[1]} is not in docs/design.md` });
  }
  for (const m of line.matchAll(/docs\/design\.md, "([^"]+)"/g)) {
    if (!defined.sections.has(m[1]!)) out.push({ where, problem: `section "${m[1]}" is not in docs/design.md` });
  }
  for (const m of line.matchAll(/docs\/design\.md (?:pitfall )?P(\d+)/g)) {
    if (!defined.pitfalls.has(Number(m[1]))) out.push({ where, problem: `pitfall P${m[1]} is not in docs/design.md` });
  }
  // A pitfall named without the file: "(P7)", "(P7:", "see P7", "pitfall P7".
  for (const m of line.matchAll(/(\(|see |pitfall )P(\d+)\b/g)) {
    const before = line.slice(0, m.index);
    if (!before.endsWith('docs/design.md ') && !/docs\/design\.md[^()]*$/.test(before)) {
      out.push({ where, problem: `P${m[2]} cited without docs/design.md` });
    }
  }
  return out;
}

const sourceFile = /\.(ts|mts|js|mjs|cc|c|h|mm|m|sh|gyp|md)$/;

describe('design citations', () => {
  const defined = definedCitations(design);

  it('docs/design.md defines invariants 1-6 and pitfalls P1-P18', () => {
    assert.deepEqual(
      [...defined.invariants].sort((a, b) => a - b),
      [1, 2, 3, 4, 5, 6],
    );
    assert.equal(defined.pitfalls.size, 18);
  });

  it('the checker catches what it must', () => {
    const bad = [
      '// keeps DESIGN.md invariant 1',
      '// (docs/design.md invariant 9)',
      '// never larger (P2)',
      '// see P12',
      '// docs/design.md P42',
      '// see ../shared/DESIGN.md',
      '// (docs/design.md, "Slow backend calls")',
    ];
    for (const l of bad) assert.ok(checkLine(l, 'x', defined).length > 0, `not caught: ${l}`);
    const good = [
      '// (docs/design.md invariant 1)',
      '// (docs/design.md P2)',
      '// see docs/design.md P12',
      '// (docs/design.md P18: every fd is a fresh dup)',
      '// (docs/design.md, "Long backend calls")',
      '// docs/design.md, "Threads and locks"',
      'const m = /^P6\\s+(\\d+)/.exec(text); // a PPM header',
    ];
    for (const l of good) assert.deepEqual(checkLine(l, 'x', defined), [], `false alarm: ${l}`);
  });

  it('every citation in the tree names something docs/design.md defines', () => {
    const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard'], { cwd: root, encoding: 'utf8' })
      .split('\n')
      .filter(
        (f) => sourceFile.test(f) && !f.startsWith('node_modules/') && f !== 'docs/design.md' && f !== 'test/unit/design-citations.test.ts',
      );
    assert.ok(files.length > 50, `only ${files.length} source files found under ${root}`);
    const findings: Finding[] = [];
    for (const f of files) {
      let text: string;
      try {
        text = readFileSync(join(root, f), 'utf8');
      } catch {
        continue; // listed but deleted in the work tree
      }
      text.split('\n').forEach((line, i) => findings.push(...checkLine(line, `${f}:${i + 1}`, defined)));
    }
    assert.deepEqual(findings, []);
  });
});
