// What the bench reads of the processes on this machine, from /proc (Linux).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

function childrenOf(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** Resident memory of a process's workers (itself when it has none), in MB, one entry each. */
export function residentMb(pid: number): number[] {
  const rss = (p: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))![1]) / 1024;
  const workers = childrenOf(pid);
  return workers.length > 0 ? workers.map(rss) : [rss(pid)];
}

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ on Linux
/** CPU seconds (utime + stime) in a /proc/PID/stat line. */
const cpuSecondsOf = (stat: string) => {
  const fields = stat.split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
};

/** CPU seconds used so far by each PostgreSQL process on this machine (the bench's server is local), by pid. */
export function postgresCpuSeconds(): Map<number, number> {
  const seconds = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (!stat.includes('(postgres)')) continue;
      seconds.set(Number(entry), cpuSecondsOf(stat));
    } catch {
      // the process ended meanwhile
    }
  }
  return seconds;
}

/**
 * PostgreSQL CPU used between two readings. A backend that ended meanwhile
 * (a pool closing an idle connection) takes its CPU with it, so only
 * processes in the second reading count: those born meanwhile with all of
 * theirs. Summing totals instead came out negative.
 */
export function postgresCpuSince(before: Map<number, number>): number {
  let used = 0;
  for (const [pid, now] of postgresCpuSeconds()) used += now - (before.get(pid) ?? 0);
  return used;
}

/** CPU seconds used so far by a process and its children (cluster workers), all threads. */
export function cpuSeconds(pid: number): number {
  return [pid, ...childrenOf(pid)].reduce((sum, p) => sum + cpuSecondsOf(readFileSync(`/proc/${p}/stat`, 'utf8')), 0);
}
