// pino JSON logs on stderr, one event per line; the message is the event name
// (QEMU's trace-event names, e.g. apple_gfx_read, vfio_user_dma_map). The
// level and a selection of debug/trace events can change at run time (control
// API), like QEMU's -trace enable=PATTERN.
import { pino, type Logger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const DEBUG_LEVEL_VALUE = 20;

export class LogControl {
  /** When non-empty, debug and trace events are kept only if named here. */
  readonly traceEvents = new Set<string>();
  private readonly listeners: (() => void)[] = [];
  constructor(readonly logger: Logger) {}

  /** Called after every change of the level or the event selection. */
  onChange(fn: () => void): void {
    this.listeners.push(fn);
  }

  get level(): string {
    return this.logger.level;
  }

  setLevel(level: string): void {
    if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new Error(`unknown log level '${level}'`);
    this.logger.level = level;
    for (const fn of this.listeners) fn();
  }

  setTraceEvents(names: string[]): void {
    this.traceEvents.clear();
    for (const n of names) this.traceEvents.add(n);
    for (const fn of this.listeners) fn();
  }
}

export function createLogger(level: LogLevel): LogControl {
  let control: LogControl | null = null;
  const logger = pino(
    {
      level,
      base: { pid: process.pid, name: 'apple-gfxd' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      hooks: {
        logMethod(args, method, levelValue) {
          const filter = control?.traceEvents;
          if (filter && filter.size > 0 && levelValue <= DEBUG_LEVEL_VALUE) {
            const name = typeof args[1] === 'string' ? args[1] : args[0];
            if (typeof name !== 'string' || !filter.has(name)) return;
          }
          method.apply(this, args as Parameters<typeof method>);
        },
      },
    },
    pino.destination({ fd: 2, sync: true }),
  );
  control = new LogControl(logger);
  return control;
}
