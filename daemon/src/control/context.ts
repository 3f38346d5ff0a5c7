// What the control API can see and do in a running daemon.
import type { IntervalHistogram } from 'node:perf_hooks';
import type { AppleGfxPciDevice } from '../device/apple-gfx-pci.js';
import type { Displays } from '../display/displays.js';
import type { LogControl } from '../logging.js';
import type { VfioUserServer } from '../vfio-server.js';

export interface ViewerInfo {
  kind: 'vnc' | 'web';
  peer: string;
  port: number;
  framesSent: number;
}

export interface DaemonContext {
  version: string;
  backendName: string;
  memoryModel: string;
  startedAt: number;
  /** Intervals between the JS thread's sampling timer runs since start-up (perf_hooks.monitorEventLoopDelay); lateness is an interval minus the resolution. */
  eventLoopDelay?: { histogram: IntervalHistogram; resolutionMs: number };
  server: VfioUserServer;
  device: AppleGfxPciDevice;
  displays: Displays;
  logs: LogControl;
  /** Everyone watching a display (VNC and web viewers). */
  viewers(): ViewerInfo[];
}
