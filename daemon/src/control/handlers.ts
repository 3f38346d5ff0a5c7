// Control requests -> actions on the daemon. Each handler validates its
// request and throws ControlError for anything wrong; nothing here can leave
// the device half-changed by a bad request.
import { native } from '../native.js';
import type { DisplayModeSpec } from '../native.js';
import { encodePngAsync } from '../display/png.js';
import { BadModeError, validateModes } from '../display/modes.js';
import type { DisplaySource } from '../display/display-source.js';
import { LOG_LEVELS } from '../logging.js';
import type { DaemonContext } from './context.js';
import { ControlError } from './schema.js';
import { restoreDeviceStateSettled, saveDeviceState } from '../state/device-state.js';
import { MAX_STATE_BYTES } from '../state/limits.js';

type Obj = Record<string, any>;

/** The one mode check (validateModes), as a control error. */
function modesFrom(list: Obj[] | undefined): DisplayModeSpec[] {
  try {
    return validateModes(list);
  } catch (e) {
    throw new ControlError('BAD_MODE', (e as Error).message);
  }
}

/** Runs a display change; a mode list or frame memory it refuses is BAD_MODE. */
function badMode<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof BadModeError) throw new ControlError('BAD_MODE', e.message);
    throw e;
  }
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
        negotiated: neg
          ? { maxMsgFds: neg.maxMsgFds, maxDataXferSize: neg.maxDataXferSize, maxDmaMaps: neg.maxDmaMaps, pgsizes: neg.pgsizes, writeMultiple: !!neg.writeMultiple }
          : undefined,
        guestMemory: ctx.device.memory.regions().map((r) => ({ gpa: Number(r.gpa), size: Number(r.size), writable: r.writable })),
        tasks: { tasks: host.tasks, aliases: host.aliases, maps: host.maps, unmaps: host.unmaps, failures: host.failures },
        iosfcMappings: host.iosfcLive,
        vectors: ctx.device.interrupts.stats(),
        displays: ctx.displays.list().map(displayInfo),
        viewers: ctx.viewers(),
        latency: [...ctx.server.latency].map(([name, h]) => ({ name, boundsUs: [...h.boundsUs], counts: h.counts, total: h.total })),
        logLevel: ctx.logs.level,
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
    const d = badMode(() => ctx.displays.attach(modes, port, body.name || undefined));
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
    badMode(() => ctx.displays.setModes(body.port, modes));
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
    const state = saveDeviceState({ device: ctx.device, displays: ctx.displays, backendName: ctx.backendName, memoryModel: ctx.memoryModel });
    // What save writes, restore accepts: a state restore would refuse is not handed out.
    if (state.length > MAX_STATE_BYTES) throw new ControlError('TOO_LARGE', `the device state is ${state.length} bytes; at most ${MAX_STATE_BYTES} can be restored`);
    return { saved: { state } };
  },

  async restore(ctx, body) {
    if (!body.state || body.state.length === 0) throw new ControlError('BAD_REQUEST', 'restore needs a state');
    if (body.state.length > MAX_STATE_BYTES) throw new ControlError('TOO_LARGE', `a state of ${body.state.length} bytes; at most ${MAX_STATE_BYTES}`);
    await restoreDeviceStateSettled({ device: ctx.device, displays: ctx.displays, backendName: ctx.backendName, memoryModel: ctx.memoryModel }, body.state);
    return { ok: {} };
  },
};
