// The web viewer's bounds on what one peer can make the daemon hold
// (docs/design.md invariant 4; the table in docs/security.md). Every byte
// queued for a connection counts against one limit: WebSocket frames of any
// kind (updates, JSON, pongs, close) and HTTP responses alike.

export interface WebLimits {
  /**
   * The one per-connection limit: bytes queued for the peer, each queued
   * write charged `writeCost` on top of its bytes. Over it the connection is
   * dropped (reading stops, the socket is destroyed).
   */
  maxQueuedBytes: number;
  /** While more than this is queued, nothing more is read from a peer that keeps sending (its replies would only queue). */
  readPauseBytes: number;
  /** A peer we stopped reading that takes no byte for this long is dropped. */
  stallMs: number;
  /**
   * What one queued write costs beyond its bytes (Node keeps a request, a
   * callback and a Buffer object per write, ~470 bytes measured): charged so
   * that a flood of tiny frames cannot hold millions of entries, whose freeing
   * would stall the JS thread.
   */
  writeCost: number;
  /** Above this many bytes queued, frame and cursor updates wait (the newest goes on drain). */
  softQueuedBytes: number;
  /** HTTP requests of one connection still being answered (pipelined): more closes the connection. */
  maxUnansweredRequests: number;
  /** HTTP requests on one connection; the next one closes it (a browser opens another). */
  maxRequestsPerConnection: number;
  /** PNG screenshots being encoded at once, daemon-wide; more get 503. */
  maxScreenshotsInFlight: number;
  /** TCP connections at once (viewers and plain HTTP); more are refused by the kernel accept path. */
  maxConnections: number;
}

export const DEFAULT_WEB_LIMITS: WebLimits = {
  maxQueuedBytes: 64 << 20,
  readPauseBytes: 1 << 20,
  stallMs: 10_000,
  writeCost: 512,
  softQueuedBytes: 8 << 20,
  maxUnansweredRequests: 4,
  maxRequestsPerConnection: 100,
  maxScreenshotsInFlight: 2,
  maxConnections: 256,
};
