// vfio-user-ts: the vfio-user protocol (wire codec, server session, client).
// It knows nothing about the device it serves; see VfioUserDevice.
export * from './constants.js';
export * from './errors.js';
export * from './header.js';
export * from './logger.js';
export * from './transport.js';
export * from './device.js';
export * from './codec/version.js';
export * from './codec/dma.js';
export * from './codec/device-info.js';
export * from './codec/set-irqs.js';
export * from './codec/region-access.js';
export { ServerSession, type SessionStats } from './server/server-session.js';
export { defaultServerLimits, maxMessageSize, type ServerLimits } from './server/limits.js';
export { VfioUserClient, QEMU_VERSION_JSON, type Reply } from './vfio-client.js';
export { LatencyHistogram, DEFAULT_BOUNDS_US } from './histogram.js';
export * from './codec/migration.js';
