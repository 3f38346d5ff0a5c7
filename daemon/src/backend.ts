// The graphics backends: which ones this host can run, the choice on the
// command line, and starting the chosen one (native) with its events routed
// to the displays.
import type { Variant } from './device/apple-gfx-pci.js';
import { native, type BackendEvent, type NativeBackend } from './native.js';
import { pvgDoubleLibrary } from './pvg-double.js';

export type BackendName = 'soft' | 'pvg' | 'lib';

export interface BackendChoice {
  kind: BackendName;
  /** For lib:PATH. */
  path?: string;
}

/** Ports the soft backend supports (docs/soft-device.md DISPLAYS). */
export const SOFT_DISPLAY_PORTS = 4;

export type MemoryModel = 'tasks' | 'static';
const MEMORY_MODEL = { tasks: 0, static: 1 } as const;

export function parseBackend(value: string): BackendChoice {
  if (value === 'soft' || value === 'pvg') return { kind: value };
  if (value.startsWith('lib:') && value.length > 4) return { kind: 'lib', path: value.slice(4) };
  throw new Error(`unknown backend '${value}' (expected soft, pvg or lib:PATH)`);
}

export function defaultBackend(): string {
  return process.platform === 'darwin' ? 'pvg' : 'soft';
}

export function backendAvailability(): { name: string; available: boolean; reason?: string }[] {
  const mac = process.platform === 'darwin';
  return [
    { name: 'soft', available: true },
    mac
      ? { name: 'pvg', available: true }
      : pvgDoubleLibrary()
        ? { name: 'pvg', available: true, reason: 'Linux: the test-only PVG double stands in for ParavirtualizedGraphics' }
        : {
            name: 'pvg',
            available: false,
            reason:
              'ParavirtualizedGraphics.framework exists only on macOS (on Linux, `npm run build:pvg-double` builds the test-only PVG double)',
          },
    { name: 'lib', available: true },
  ];
}

/** Throws a user-facing error if the chosen backend cannot run here. */
export function checkBackend(choice: BackendChoice): void {
  const a = backendAvailability().find((b) => b.name === choice.kind);
  if (!a?.available) throw new Error(`backend '${choice.kind}' is unavailable: ${a?.reason ?? 'unknown'}`);
}

export function startBackend(
  choice: BackendChoice,
  variant: Variant,
  displayPorts: number,
  memoryModel: MemoryModel,
  onEvents: (events: BackendEvent[]) => void,
): NativeBackend {
  const opts = { variant: variant === 'mmio' ? 1 : 0, displayPorts, memoryModel: MEMORY_MODEL[memoryModel] };
  if (choice.kind === 'pvg' && process.platform !== 'darwin') {
    // Linux: the pvg backend built against the PVG double (test-only).
    const lib = pvgDoubleLibrary();
    if (!lib)
      throw new Error(
        'the pvg backend needs macOS (ParavirtualizedGraphics.framework); on Linux build the PVG double first: npm run build:pvg-double',
      );
    return new native.Backend('lib', lib, opts, onEvents);
  }
  return new native.Backend(choice.kind, choice.path ?? '', opts, onEvents);
}
