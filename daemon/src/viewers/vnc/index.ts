// The daemon's VNC sink: `--vnc [HOST:]PORT` serves display N on PORT + N.
export {
  DEFAULT_VNC_HOST,
  VncServer,
  parseVncListen,
  startVncServers,
  type VncDisplayStats,
  type VncListen,
  type VncServerOptions,
} from './vnc-server.js';
export type { SessionStats } from './client-session.js';
