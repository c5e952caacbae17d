/**
 * Monitor samples of a service host for `report --attach` tests: a sample moved to another time
 * (a real one, taken by `portstorm monitor`, or a made one), with the service's port use toward
 * its backend set so each run second can be told apart.
 */
import { zeroStates, type MonitorSample } from '../../src/monitor/types.js';

/** The backend the service connects to in these tests. */
export const BACKEND = '198.18.2.2:8080';

/** `s` moved to `at` (epoch ms): its sockstat and scan times move with it. A copy. */
export function shiftTo(s: MonitorSample, at: number): MonitorSample {
  const by = at - s.at;
  return {
    ...s,
    at,
    sockstat: s.sockstat && { ...s.sockstat, at: s.sockstat.at + by },
    scan: s.scan && { ...s.scan, at: s.scan.at + by },
  };
}

/**
 * `s` with `inUse` client sockets toward BACKEND, all in TIME_WAIT (the service's TIME_WAIT, in its
 * sockstat and its scan), of `usable` ports. A sample without a scan gets its sockstat figure only.
 */
export function withBackendUse(s: MonitorSample, inUse: number, usable = 28_232): MonitorSample {
  return {
    ...s,
    sockstat: s.sockstat && { ...s.sockstat, timeWait: inUse },
    scan: s.scan && {
      ...s.scan,
      states: { ...s.scan.states, timeWait: inUse },
      client: { ...s.scan.client, timeWait: inUse },
      ephemeralInUse: inUse,
      destinations: [{ dest: BACKEND, inUse, timeWait: inUse, established: 0, bySource: null, utilization: inUse / usable }],
    },
  };
}

/** A made sample at `at`: sockstat and a sockdiag scan, nothing else. */
export function madeSample(at: number): MonitorSample {
  return {
    at,
    lateMs: 0,
    sockstat: { at, timeWait: 0, inUse: 1, orphan: 0, alloc: 1, inUse6: 0 },
    scan: { at, costMs: 2, source: 'sockdiag', total: 1, states: zeroStates(), client: zeroStates(), server: zeroStates(), ephemeralInUse: 0, destinations: [], sources: {} },
    counters: null,
    conntrack: null,
    fds: null,
  };
}
