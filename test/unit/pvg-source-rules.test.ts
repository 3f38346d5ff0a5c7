// Source rules of the pvg backend that no compile on Linux can check, each
// for a finding of pvg-on-a-mac.md whose return it would catch:
//  14: every block the backend hands to a queue, a PVG handler or Metal
//      opens an @autoreleasepool first;
//  16: no SDK-version #if, and none of the SDK's task typedefs (obsoleted in
//      the macOS 27 SDK): the task model is chosen at run time;
//   8: nothing is put on the main queue but the empty wake-up block of
//      OffMain, and no display handler queue is the main queue;
//  13: no readMemory with the static map (setReadMemory: only in ConfigureTasks).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const dir = join(root, 'native/pvg');
/** The source without // comments (rules are about code). */
const code = (text: string): string => text.replace(/\/\/[^\n]*/g, '');
const sources = readdirSync(dir)
  .filter((f) => f.endsWith('.mm'))
  .map((f) => ({ f, text: code(readFileSync(join(dir, f), 'utf8')) }));

describe('pvg backend source rules', () => {
  it('14: every block given to dispatch, a PVG handler or Metal drains its own autorelease pool', () => {
    const bad: string[] = [];
    for (const { f, text } of sources) {
      // Handler assignments (desc.xxxHandler = ^...), dispatch_async(q, ^...), addCompletedHandler:^...
      const re = /(Handler\s*=\s*\^|dispatch_async\([^,]+,\s*\^|addCompletedHandler:\s*\^)[^{]*\{([^\n]*)/g;
      for (const m of text.matchAll(re)) {
        const rest = m[2]!.trim();
        const wakeUp = /dispatch_get_main_queue\(\), \^\{\}\);/.test(m[0] + rest) || rest === '});';
        if (!rest.startsWith('@autoreleasepool') && !wakeUp) bad.push(`${f}: ${m[0].trim()}${rest}`);
      }
    }
    assert.deepEqual(bad, []);
  });

  it('16: no SDK-version #if and no SDK task typedefs in the backend', () => {
    for (const { f, text } of [...sources, { f: 'pvg_internal.h', text: code(readFileSync(join(dir, 'pvg_internal.h'), 'utf8')) }]) {
      assert.doesNotMatch(text, /#\s*(if|elif|ifdef|ifndef)[^\n]*(MAC_OS_VERSION|AGFX_PVG_HAVE_TASK_API|__MAC_OS_X_VERSION)/, f);
      assert.doesNotMatch(text, /\bPG(Task_t|CreateTask|DestroyTask|MapMemory|UnmapMemory|ReadMemory)\b/, f);
      // The SDK's typed properties are not used for the task callbacks (setters looked up at run time).
      assert.doesNotMatch(text, /\bdesc\.(createTask|destroyTask|mapMemory|unmapMemory|readMemory)\s*=/, f);
    }
  });

  it("8: the main queue gets only OffMain's wake-up block; display handlers never run on it", () => {
    const uses = sources.flatMap(({ f, text }) => [...text.matchAll(/dispatch_get_main_queue\(\)[^\n]*/g)].map((m) => `${f}: ${m[0]}`));
    assert.deepEqual(uses, ['pvg_backend.mm: dispatch_get_main_queue(), ^{});']);
    const display = sources.find((s) => s.f === 'pvg_display.mm')!.text;
    assert.match(display, /desc\.queue = display_queue;/);
  });

  it('13: readMemory is set only with the task callbacks', () => {
    const device = sources.find((s) => s.f === 'pvg_device.mm')!.text;
    const staticMap = device.slice(device.indexOf('bool PvgDevice::ConfigureStaticMap('), device.indexOf('bool PvgDevice::CreateIosfc('));
    assert.ok(staticMap.length > 0);
    assert.doesNotMatch(staticMap, /ReadMemory|readMemory\s*=/);
  });
});
