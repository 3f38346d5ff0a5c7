// Latency histogram with fixed microsecond buckets (the last one is open).
export const DEFAULT_BOUNDS_US = [2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000] as const;

export class LatencyHistogram {
  readonly counts: number[];
  total = 0;
  constructor(readonly boundsUs: readonly number[] = DEFAULT_BOUNDS_US) {
    this.counts = new Array(boundsUs.length + 1).fill(0);
  }
  record(us: number): void {
    let i = 0;
    while (i < this.boundsUs.length && us > this.boundsUs[i]!) i++;
    this.counts[i]!++;
    this.total++;
  }
}
