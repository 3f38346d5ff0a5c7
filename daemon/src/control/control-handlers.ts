// Control requests -> actions on the daemon. Each handler takes its request
// body as control.proto defines it and returns the body of the response
// REPLY_TO names; anything wrong is a DeviceError, and nothing here can leave
// the device half-changed by a bad request.
import { native } from '../native.js';
import { encodePngAsync } from '../display/png.js';
import { checkModes } from '../display/modes.js';
import { MAX_STATE_BYTES } from '../state/limits.js';
import type { DisplaySource } from '../display/display-source.js';
import { DeviceError } from '../device-error.js';
import { LOG_LEVELS, type LogLevel } from '../logging.js';
import type { DaemonContext } from './context.js';
import type { DisplayInfo, LoopDelay, RequestBody } from './control-types.js';
import type { Init, ReplyTo, RequestKind } from './schema.js';
import { restoreDeviceStateSettled, saveDeviceState, type StateParts } from '../state/device-state.js';

export type ControlHandler<K extends RequestKind> = (
  ctx: DaemonContext,
  body: RequestBody[K],
) => Init<ReplyTo<K>> | Promise<Init<ReplyTo<K>>>;

function displayInfo(d: DisplaySource): DisplayInfo {
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
  if (!d) throw new DeviceError('no-such-display', `no display on port ${port}`);
  return d;
}

/** How late the JS thread's sampling timer ran: p50, p99 and max of (interval - resolution), in ms. */
function loopLateness(d: NonNullable<DaemonContext['eventLoopDelay']>): LoopDelay {
  const late = (ns: number): number => Math.max(0, ns / 1e6 - d.resolutionMs);
  return {
    p50Ms: late(d.histogram.percentile(50)),
    p99Ms: late(d.histogram.percentile(99)),
    maxMs: late(d.histogram.max),
    samples: d.histogram.count,
  };
}

const stateParts = (ctx: DaemonContext): StateParts => ({
  device: ctx.device,
  displays: ctx.displays,
  backendName: ctx.backendName,
  memoryModel: ctx.memoryModel,
});

export const controlHandlers: { [K in RequestKind]: ControlHandler<K> } = {
  status(ctx) {
    const neg = ctx.server.negotiated;
    const host = native.hostStats();
    return {
      version: ctx.version,
      backend: ctx.backendName,
      variant: ctx.device.variant,
      memoryModel: ctx.memoryModel,
      uptimeSeconds: (Date.now() - ctx.startedAt) / 1000,
      clientConnected: ctx.server.connected,
      clientsServed: ctx.server.clientsServed,
      dataPlane: ctx.server.dataPlaneStats(),
      operation: ctx.device.ops.status(),
      negotiated: neg
        ? {
            maxMsgFds: neg.maxMsgFds,
            maxDataXferSize: neg.maxDataXferSize,
            maxDmaMaps: neg.maxDmaMaps,
            pgsizes: neg.pgsizes,
            writeMultiple: !!neg.writeMultiple,
          }
        : null,
      guestMemory: ctx.device.memory.regions().map((r) => ({ gpa: Number(r.gpa), size: Number(r.size), writable: r.writable })),
      tasks: { tasks: host.tasks, aliases: host.aliases, maps: host.maps, unmaps: host.unmaps, failures: host.failures },
      iosfcMappings: host.iosfcLive,
      vectors: ctx.device.interrupts.stats(),
      displays: ctx.displays.list().map(displayInfo),
      viewers: ctx.viewers(),
      latency: ctx.server.latencySnapshot(),
      logLevel: ctx.logs.level,
      eventLoopDelay: ctx.eventLoopDelay ? loopLateness(ctx.eventLoopDelay) : null,
    };
  },

  // Display changes are device operations (device-ops.ts): they wait for a
  // reset, save or restore under way.
  async displayAdd(ctx, body) {
    const modes = checkModes(body.modes);
    return displayInfo(await ctx.device.ops.run('display add', () => ctx.displays.attach(modes, body.port, body.name || undefined)));
  },

  async displayRemove(ctx, body) {
    await ctx.device.ops.run('display remove', () => ctx.displays.detach(body.port));
    return {};
  },

  async displayModes(ctx, body) {
    const d = needDisplay(ctx, body.port);
    const modes = checkModes(body.modes);
    const changed = await ctx.device.ops.run('display modes', () => {
      const keeps = modes.some((m) => m.width === d.width && m.height === d.height);
      let done = (): void => {};
      const switched = keeps
        ? null
        : new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, 200);
            done = () => (clearTimeout(timer), resolve());
            d.once('mode', done);
          });
      try {
        ctx.displays.setModes(body.port, modes);
      } catch (e) {
        d.off('mode', done);
        done();
        throw e;
      }
      return { switched };
    });
    // The backend reports the switch it makes as an event; answer with it.
    await changed.switched;
    return displayInfo(d);
  },

  async screenshot(ctx, body) {
    const d = needDisplay(ctx, body.port);
    const f = d.latest();
    if (!f) throw new DeviceError('no-such-display', `display ${body.port} has no frame`);
    const { width, height, sequence } = f;
    // The pixels are converted in this turn; the deflate runs off the JS thread.
    const png = await encodePngAsync(width, height, f.data);
    return { port: d.port, width, height, sequence, png };
  },

  async reset(ctx) {
    await ctx.device.reset();
    return {};
  },

  logLevel(ctx, body) {
    if (body.level) {
      if (!(LOG_LEVELS as readonly string[]).includes(body.level))
        throw new DeviceError('invalid', `unknown log level '${body.level}' (${LOG_LEVELS.join(', ')})`);
      ctx.logs.setLevel(body.level as LogLevel);
    }
    if (body.replaceEvents || body.traceEvents.length > 0) ctx.logs.setTraceEvents(body.traceEvents);
    return { level: ctx.logs.level, traceEvents: [...ctx.logs.traceEvents] };
  },

  async save(ctx) {
    const state = await ctx.device.ops.run('save', () => saveDeviceState(stateParts(ctx)));
    // What save writes, restore accepts: a state restore would refuse is not handed out.
    if (state.length > MAX_STATE_BYTES)
      throw new DeviceError('too-large', `the device state is ${state.length} bytes; at most ${MAX_STATE_BYTES} can be restored`);
    return { state };
  },

  async restore(ctx, body) {
    if (body.state.length === 0) throw new DeviceError('invalid', 'restore needs a state');
    if (body.state.length > MAX_STATE_BYTES)
      throw new DeviceError('too-large', `a state of ${body.state.length} bytes; at most ${MAX_STATE_BYTES}`);
    await restoreDeviceStateSettled(stateParts(ctx), body.state);
    return {};
  },
};
