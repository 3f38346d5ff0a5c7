// --print-capabilities: what this build can do, as vhost-user backends print it.
import { Limits } from 'vfio-user-ts';
import { backendAvailability } from './backend.js';

export function capabilities(): object {
  return {
    type: 'gpu',
    device: 'apple-gfx',
    protocol: { name: 'vfio-user', version: '0.0', maxMsgFds: Limits.MAX_MAX_FDS, maxDataXferSize: Limits.DEFAULT_MAX_DATA_XFER },
    variants: ['pci', 'mmio'],
    backends: backendAvailability(),
    features: [
      'socket-path',
      'fd',
      'socket-activation',
      'msi',
      'msix',
      'device-reset',
      'posted-writes',
      'shared-guest-memory',
      'reconnect',
      'control-api',
      'multi-display',
      'static-memory-map',
      'qmp-input',
    ],
  };
}
