// Which graphics backends this host can run.
import { pvgDoubleLibrary } from './pvg-double.js';

export type BackendName = 'soft' | 'pvg' | 'lib';

export interface BackendChoice {
  kind: BackendName;
  /** For lib:PATH. */
  path?: string;
}

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
        : { name: 'pvg', available: false, reason: 'ParavirtualizedGraphics.framework exists only on macOS (on Linux, `npm run build:pvg-double` builds the test-only PVG double)' },
    { name: 'lib', available: true },
  ];
}

/** Throws a user-facing error if the chosen backend cannot run here. */
export function checkBackend(choice: BackendChoice): void {
  const a = backendAvailability().find((b) => b.name === choice.kind);
  if (!a?.available) throw new Error(`backend '${choice.kind}' is unavailable: ${a?.reason ?? 'unknown'}`);
}
