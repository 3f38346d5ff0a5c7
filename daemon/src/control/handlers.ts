// Control requests -> actions on the daemon. Each handler validates its
// request and throws ControlError for anything wrong; nothing here can leave
// the device half-changed by a bad request.
import { native } from '../native.js';
import type { DisplayModeSpec } from '../native.js';
import { encodePngAsync } from '../display/png.js';
import { MAX_MODES } from '../display/modes.js';
import type { DisplaySource } from '../display/display-source.js';
import { LOG_LEVELS } from '../logging.js';
import type { DaemonContext } from './context.js';
import { ControlError } from './schema.js';
import { restoreDeviceStateSettled, saveDeviceState } from '../state/device-state.js';

type Obj = Record<string, any>;

function modesFrom(list: Obj[] | undefined): DisplayModeSpec[] {
  if (!list || list.length === 0) throw new ControlError('BAD_MODE', 'a display needs at least one mode');
  if (list.length > MAX_MODES) throw new ControlError('BAD_MODE', `${list.length} modes; at most ${MAX_MODES}`);
  return list.map((m, i) => {
    const width = Number(m.width), height = Number(m.height), refreshHz = Number(m.refreshHz);
    if (!(width >= 1 && width <= 65535 && height >= 1 && height <= 65535))
      throw new ControlError('BAD_MODE', `mode ${i}: ${width}x${height} is outside 1..65535 x 1..65535`);
    if (!(refreshHz > 0 && refreshHz <= 1000)) throw new ControlError('BAD_MODE', `mode ${i}: refresh rate ${refreshHz} Hz outside (0, 1000]`);
    return { width, height, refreshHz };
  });
}

function displayInfo(d: DisplaySource): Obj {
  return {
    port: d.port,
    serial: d.serial,
    name: d.name,
    modes: d.modes,
    width: d.width,
    height: d.height,
    framesPresented: d.presented,
    framesReadOut: d.readouts,
    cursor: {
      visible: d.cursor.visible,
      x: d.cursor.x,
      y: d.cursor.y,
      glyphWidth: d.cursor.glyph?.width ?? 0,
      glyphHeight: d.cursor.glyph?.height ?? 0,
    },
  };
}

function needDisplay(ctx: DaemonContext, port: number): DisplaySource {
  const d = ctx.displays.get(port);
  if (!d) throw new ControlError('UNKNOWN_DISPLAY', `no display on port ${port}`);
  return d;
}

/** How late the JS thread's sampling timer ran: p50, p99 and max of (interval - resolution), in ms. */
function loopLateness(d: NonNullable<DaemonContext['eventLoopDelay']>): Obj {
  const late = (ns: number): number => Math.max(0, ns / 1e6 - d.resolutionMs);
  return { p50Ms: late(d.histogram.percentile(50)), p99Ms: late(d.histogram.percentile(99)), maxMs: late(d.histogram.max), samples: d.histogram.count };
}

export const controlHandlers: Record<string, (ctx: DaemonContext, body: Obj) => Obj | Promise<Obj>> = {
  status(ctx) {
    const neg = ctx.server.negotiated;
    const host = native.hostStats();
    return {
      status: {
        version: ctx.version,
        backend: ctx.backendName,
        variant: ctx.device.variant,
        memoryModel: ctx.memoryModel,
        uptimeSeconds: (Date.now() - ctx.startedAt) / 1000,
        clientConnected: ctx.server.connected,
        clientsServed: ctx.server.clientsServed,
        dataPlane: ctx.server.dataPlaneStats() ?? undefined,
        negotiated: neg
          ? { maxMsgFds: neg.maxMsgFds, maxDataXferSize: neg.maxDataXferSize, maxDmaMaps: neg.maxDmaMaps, pgsizes: neg.pgsizes, writeMultiple: !!neg.writeMultiple }
          : undefined,
        guestMemory: ctx.device.memory.regions().map((r) => ({ gpa: Number(r.gpa), size: Number(r.size), writable: r.writable })),
        tasks: { tasks: host.tasks, aliases: host.aliases, maps: host.maps, unmaps: host.unmaps, failures: host.failures },
        iosfcMappings: host.iosfcLive,
        vectors: ctx.device.interrupts.stats(),
        displays: ctx.displays.list().map(displayInfo),
        viewers: ctx.viewers(),
        latency: ctx.server.latencySnapshot(),
        logLevel: ctx.logs.level,
        eventLoopDelay: ctx.eventLoopDelay ? loopLateness(ctx.eventLoopDelay) : undefined,
      },
    };
  },

  displayAdd(ctx, body) {
    const modes = modesFrom(body.modes);
    const port = body.port ?? undefined;
    if (port !== undefined && ctx.displays.get(port)) throw new ControlError('BAD_REQUEST', `display port ${port} is in use`);
    if (port === undefined && ctx.displays.list().length >= ctx.displays.maxPorts)
      throw new ControlError('NO_FREE_PORT', `all ${ctx.displays.maxPorts} display ports are in use`);
    if (port !== undefined && port >= ctx.displays.maxPorts)
      throw new ControlError('BAD_REQUEST', `display port ${port} outside 0..${ctx.displays.maxPorts - 1}`);
    const d = ctx.displays.attach(modes, port, body.name || undefined);
    return { display: displayInfo(d) };
  },

  displayRemove(ctx, body) {
    needDisplay(ctx, body.port);
    ctx.displays.detach(body.port);
    return { ok: {} };
  },

  async displayModes(ctx, body) {
    const d = needDisplay(ctx, body.port);
    const modes = modesFrom(body.modes);
    const keeps = modes.some((m) => m.width === d.width && m.height === d.height);
    const changed = keeps ? null : new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 200);
      d.once('mode', () => (clearTimeout(timer), resolve()));
    });
    ctx.displays.setModes(body.port, modes);
    // The backend reports the switch it makes as an event; answer with it.
    await changed;
    return { display: displayInfo(d) };
  },

  async screenshot(ctx, body) {
    const d = needDisplay(ctx, body.port);
    const f = d.latest();
    if (!f) throw new ControlError('UNKNOWN_DISPLAY', `display ${body.port} has no frame`);
    const { width, height, sequence } = f;
    // The pixels are converted in this turn; the deflate runs off the JS thread.
    const png = await encodePngAsync(width, height, f.data);
    return { screenshot: { port: d.port, width, height, sequence, png } };
  },

  reset(ctx) {
    ctx.device.reset();
    return { ok: {} };
  },

  logLevel(ctx, body) {
    if (body.level) {
      if (!(LOG_LEVELS as readonly string[]).includes(body.level))
        throw new ControlError('BAD_REQUEST', `unknown log level '${body.level}' (${LOG_LEVELS.join(', ')})`);
      ctx.logs.setLevel(body.level);
    }
    if (body.replaceEvents || (body.traceEvents?.length ?? 0) > 0) ctx.logs.setTraceEvents(body.traceEvents ?? []);
    return { logLevel: { level: ctx.logs.level, traceEvents: [...ctx.logs.traceEvents] } };
  },

  save(ctx) {
    return { saved: { state: saveDeviceState({ device: ctx.device, displays: ctx.displays, backendName: ctx.backendName, memoryModel: ctx.memoryModel }) } };
  },

  async restore(ctx, body) {
    if (!body.state || body.state.length === 0) throw new ControlError('BAD_REQUEST', 'restore needs a state');
    await restoreDeviceStateSettled({ device: ctx.device, displays: ctx.displays, backendName: ctx.backendName, memoryModel: ctx.memoryModel }, body.state);
    return { ok: {} };
  },
};
