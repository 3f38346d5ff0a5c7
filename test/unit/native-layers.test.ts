// The native tree's layers (native/README.md): the core, the platform seam
// and the soft backend are plain C++ that never include Node, N-API or
// libuv; OS-specific code is behind native/platform/ only; the shipped addon
// carries no test or bench hooks, which live in the test addon next to it.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { locateAddon } from '#daemon/native.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const PLAIN = ['native/core', 'native/platform', 'native/soft'];
const HOOKS = /^(test|bench)[A-Z]/;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return sources(p);
    return /\.(cc|h|mm)$/.test(f) ? [p] : [];
  });
}

describe('native layers', () => {
  it('the core, platform and soft libraries include no Node, N-API or libuv header', () => {
    const offenders: string[] = [];
    for (const dir of PLAIN) {
      for (const f of sources(join(root, dir))) {
        const text = readFileSync(f, 'utf8');
        for (const m of text.matchAll(/^\s*#\s*include\s*[<"]([^>"]+)[>"]/gm))
          if (/^(napi|node_api|node|uv|js_native_api)(\.h|_)/.test(m[1]!)) offenders.push(`${relative(root, f)}: ${m[1]}`);
      }
    }
    assert.deepEqual(offenders, []);
  });

  it('no code outside native/platform/ (and the macOS-only pvg/) asks which OS it is built for', () => {
    const offenders: string[] = [];
    for (const dir of ['native/core', 'native/soft', 'native/addon', 'native/testing', 'native/fuzz', 'native/include']) {
      for (const f of sources(join(root, dir))) {
        const text = readFileSync(f, 'utf8');
        for (const m of text.matchAll(/^\s*#\s*(if|ifdef|ifndef|elif)\b.*\b(__linux__|__APPLE__|__MACH__|_WIN32|__FreeBSD__)\b.*$/gm))
          offenders.push(`${relative(root, f)}: ${m[0].trim()}`);
      }
    }
    assert.deepEqual(offenders, []);
  });

  it('the shipped addon exports no test or bench hooks; the test addon has them and all the rest', () => {
    const req = createRequire(import.meta.url);
    const shipped = Object.keys(req(locateAddon()) as object);
    const test = Object.keys(req(locateAddon('agfx_native_test.node')) as object);
    assert.deepEqual(
      shipped.filter((k) => HOOKS.test(k)),
      [],
    );
    assert.ok(shipped.includes('Connection') && shipped.includes('Backend'), 'the shipped addon has its bindings');
    for (const k of shipped) assert.ok(test.includes(k), `the test addon exports ${k} too`);
    for (const k of ['testMemoryMapAcquire', 'testMemoryMapRelease', 'benchIrqRaise', 'benchIosfc'])
      assert.ok(test.includes(k), `the test addon exports ${k}`);
  });
});
