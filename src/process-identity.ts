// Which process wrote a lock, a history record or a temporary file, told so that a pid used again
// by another process (pid reuse after a restart; containers, where every entry point is pid 1)
// does not pass for the writer: the pid plus the process's start time. On Linux the start time is
// /proc/<pid>/stat's starttime with the boot's id; elsewhere `ps -o lstart=`. Where neither can be
// read, only the pid is compared (as before).
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

export interface ProcessId {
  pid: number;
  /** When the process started, in a form only compared for equality; absent when it could not be read. */
  started?: string;
  /** The machine: a process of another host cannot be checked, so it is taken to be alive. */
  host?: string;
}

let bootId: string | undefined;

/** The start of a running process as a comparable token, or undefined when it is not running (or cannot be read). */
export function startOf(pid: number): string | undefined {
  if (process.platform === 'linux') {
    try {
      bootId ??= readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const starttime = fields[19]; // field 22, starttime, in clock ticks since boot
      return starttime ? `${bootId}:${starttime}` : undefined;
    } catch {
      return undefined;
    }
  }
  try {
    const { execFileSync } = require('node:child_process') as typeof import('node:child_process');
    const out = execFileSync('ps', ['-o', 'lstart=', '-p', String(pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return out || undefined;
  } catch {
    return undefined;
  }
}

/** When a running process started, in ms since the epoch (to a second or so); undefined when it cannot be read. */
export function startedAtMs(pid: number): number | undefined {
  if (process.platform === 'linux') {
    try {
      const btime = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1];
      const ticks = startOf(pid)?.split(':').pop();
      // USER_HZ, the unit of starttime, is 100 on every Linux architecture Node runs on.
      return btime && ticks ? Number(btime) * 1000 + Number(ticks) * 10 : undefined;
    } catch {
      return undefined;
    }
  }
  const started = startOf(pid);
  const ms = started ? Date.parse(started) : Number.NaN;
  return Number.isNaN(ms) ? undefined : ms;
}

let self: ProcessId | undefined;

/** This process. */
export function thisProcess(): ProcessId {
  if (!self) {
    const started = startOf(process.pid);
    self = { pid: process.pid, host: hostname(), ...(started && { started }) };
  }
  return self;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether the process is still running: its pid is alive and, when its start was recorded, it
 * started then. Without a recorded start (what earlier versions wrote), `writtenAtMs` — when its
 * lock or record was written — tells a reused pid: a process that started after that cannot be
 * the writer.
 */
export function isRunning(id: ProcessId, writtenAtMs?: number): boolean {
  if (!Number.isInteger(id.pid) || id.pid <= 0) return false;
  if (id.host && id.host !== hostname()) return true;
  if (!pidAlive(id.pid)) return false;
  if (id.started !== undefined) {
    const started = startOf(id.pid);
    return started === undefined || started === id.started;
  }
  if (writtenAtMs === undefined) return true;
  const startedAt = startedAtMs(id.pid);
  return startedAt === undefined || startedAt <= writtenAtMs + 2_000; // /proc/stat's btime may drift by a second
}

/** Reads a ProcessId written as JSON, or a bare pid (what earlier versions wrote); undefined when neither. */
export function parseProcessId(text: string): ProcessId | undefined {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return { pid: Number(trimmed) };
  try {
    const value = JSON.parse(trimmed) as Partial<ProcessId>;
    if (typeof value.pid !== 'number') return undefined;
    return {
      pid: value.pid,
      ...(typeof value.started === 'string' && { started: value.started }),
      ...(typeof value.host === 'string' && { host: value.host }),
    };
  } catch {
    return undefined;
  }
}

/** A short tag naming this process in a file name (pid and start, base 36): see `tagStillRunning`. */
export function processTag(): string {
  const { pid, started } = thisProcess();
  const ticks = started?.split(':').pop();
  const start = ticks && /^\d+$/.test(ticks) ? `.${Number(ticks).toString(36)}` : '';
  return `${pid.toString(36)}${start}`;
}

/** Whether the process a tag names still runs (the tag of a file name written by `processTag`). */
export function tagStillRunning(tag: string): boolean {
  const [pidPart = '', startPart] = tag.split('.');
  const pid = Number.parseInt(pidPart, 36);
  if (!Number.isInteger(pid) || pid <= 0 || !pidAlive(pid)) return false;
  if (startPart === undefined) return true;
  const ticks = startOf(pid)?.split(':').pop();
  return ticks === undefined || !/^\d+$/.test(ticks) || Number(ticks).toString(36) === startPart;
}
