// Execution history on disk: $LAMBDA_HLS_HOME/executions/<name>.json, written when the run
// starts and again when it ends, with every engine event appended to <name>.events.jsonl as it
// happens — so even a killed conversion leaves a history that says where it stopped.
import {
  appendFileSync,
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { lockHolder, tryLinkLock } from '../src/adapters/local/file-lock';
import { privateFolder } from '../src/adapters/local/paths';
import { isRunning, processTag, tagStillRunning, type ProcessId } from '../src/process-identity';
import { attemptName } from '../src/core/naming';
import type { EventLog } from './engine';
import { asNoSpace, Interrupted, oneLineCause } from '../src/core/errors';
import { lastState, type ExecutionStatus, type FailureSummary, type ProgressOf, type StoredEvent } from '../src/core/history';

export interface ExecutionRecord {
  executionName: string;
  videoId: string;
  revision: string;
  sourceKey: string;
  status: ExecutionStatus;
  startedAt: string;
  stoppedAt?: string;
  pid: number;
  /** When that process started (see process-identity): with the pid, tells it from a later process given the same pid. */
  processStarted?: string;
  input: unknown;
  output?: unknown;
  error?: FailureSummary;
}

export function compactEvent(event: EventLog, progressOf: ProgressOf): StoredEvent {
  const stored: StoredEvent = { type: event.type, timestamp: event.timestamp };
  if ('state' in event) {
    stored.state = event.state.name;
    stored.stateType = event.state.type;
  }
  if ('parentState' in event) {
    stored.state = event.parentState.name;
    stored.stateType = event.parentState.type;
  }
  if ('index' in event && typeof event.index === 'number') stored.index = event.index;
  if ('Error' in event) {
    stored.error = event.Error;
    stored.cause = oneLineCause(event.Cause);
  }
  if ('retry' in event) stored.attempt = event.retry.attempt;
  const payload =
    event.type === 'StateEntered' && 'state' in event
      ? event.state.input
      : event.type === 'StateExited' && 'state' in event
        ? event.state.output
        : event.type === 'ExecutionStarted'
          ? event.input
          : event.type === 'ExecutionSucceeded'
            ? event.output
            : undefined;
  if (payload !== undefined) stored.payloadBytes = Buffer.byteLength(JSON.stringify(payload) ?? '');
  if (event.type === 'StateExited' && 'state' in event) Object.assign(stored, progressOf(event.state.name, event.state.output));
  return stored;
}

/** Bytes a record takes from its start: room for its final version (error, cause, output) to be written over it in place. */
const RECORD_RESERVE = 16 * 1024;

/** Where the history is, for NoSpace. */
const HISTORY = 'the lambda-hls home (its history)';

/** Writes a file whole or not at all: staged under a name of this process's, then renamed; NoSpace when the disk is full. */
function writeWhole(path: string, text: string): void {
  const staged = `${path}.${processTag()}`;
  try {
    writeFileSync(staged, text);
    renameSync(staged, path);
  } catch (error) {
    rmSync(staged, { force: true });
    throw asNoSpace(error, HISTORY);
  }
}

/** JSON followed by spaces up to `bytes` (still the same JSON to a parser). */
function padded(text: string, bytes: number): string {
  return text + ' '.repeat(Math.max(0, bytes - Buffer.byteLength(text)));
}

/** A lock being written (`<videoId>.lock.<process tag>`) whose writer is gone. */
function stagedLockDead(name: string): boolean {
  const tag = /\.lock\.([0-9a-z.]+)$/.exec(name)?.[1];
  return tag !== undefined && !tagStillRunning(tag);
}

/** A convert waited for a video's lock longer than LAMBDA_HLS_LOCK_WAIT_SECONDS. */
export class LockTimeout extends Error {
  override readonly name = 'LockTimeout' as const;
}

export class ExecutionStore {
  readonly dir: string;

  constructor(home: string) {
    this.dir = join(home, 'executions');
  }

  private recordPath(name: string): string {
    return join(this.dir, `${name}.json`);
  }

  private eventsPath(name: string): string {
    return join(this.dir, `${name}.events.jsonl`);
  }

  exists(name: string): boolean {
    return existsSync(this.recordPath(name));
  }

  /**
   * Writes the record whole or not at all (a temporary file, then a rename), padded to
   * RECORD_RESERVE bytes: the disk space its final version needs is taken now, so `finish` can
   * write it over in place even when the disk has filled meanwhile. NoSpace when it cannot.
   */
  start(record: ExecutionRecord): void {
    privateFolder(this.dir);
    const path = this.recordPath(record.executionName);
    writeWhole(path, padded(JSON.stringify(record, null, 2), RECORD_RESERVE));
    try {
      writeFileSync(this.eventsPath(record.executionName), ''); // after the record: events alone are a dead run's
    } catch (error) {
      rmSync(path, { force: true });
      rmSync(this.eventsPath(record.executionName), { force: true });
      throw asNoSpace(error, HISTORY);
    }
  }

  /** NoSpace when the disk is full: the caller keeps the event in memory and the run goes on to fail by name. */
  append(name: string, event: StoredEvent): void {
    try {
      appendFileSync(this.eventsPath(name), `${JSON.stringify(event)}\n`);
    } catch (error) {
      throw asNoSpace(error, HISTORY);
    }
  }

  /** Over the reserved bytes in place when it fits (no new disk space needed), else written whole as `start` writes. */
  finish(record: ExecutionRecord): void {
    const path = this.recordPath(record.executionName);
    const text = JSON.stringify(record, null, 2);
    try {
      const reserved = statSync(path).size;
      if (Buffer.byteLength(text) <= reserved) {
        const fd = openSync(path, 'r+');
        try {
          writeSync(fd, padded(text, reserved), 0);
        } finally {
          closeSync(fd);
        }
        return;
      }
    } catch {
      // no record to write over: written whole below
    }
    writeWhole(path, text);
  }

  /** A record as it stands; a RUNNING one whose process is gone is reported ABORTED. */
  read(name: string): ExecutionRecord | undefined {
    let record: ExecutionRecord;
    try {
      record = JSON.parse(readFileSync(this.recordPath(name), 'utf8')) as ExecutionRecord;
    } catch {
      return undefined;
    }
    const writer: ProcessId = { pid: record.pid, ...(record.processStarted && { started: record.processStarted }) };
    if (record.status === 'RUNNING' && !isRunning(writer, Date.parse(record.startedAt))) {
      record.status = 'ABORTED';
      const events = this.events(name);
      record.error = {
        state: lastState(events),
        error: 'Interrupted',
        cause: 'the process running the conversion stopped before it finished',
      };
    }
    return record;
  }

  events(name: string): StoredEvent[] {
    try {
      return readFileSync(this.eventsPath(name), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as StoredEvent);
    } catch {
      return [];
    }
  }

  /** The folder's files with this ending ([] before the first run). */
  private filesEnding(ending: string): string[] {
    try {
      return readdirSync(this.dir).filter((f) => f.endsWith(ending));
    } catch {
      return [];
    }
  }

  /** All records, newest first. */
  all(): ExecutionRecord[] {
    return this.filesEnding('.json')
      .map((f) => this.read(f.slice(0, -'.json'.length)))
      .filter((r): r is ExecutionRecord => r !== undefined)
      .sort((a, b) => (a.startedAt < b.startedAt ? 1 : -1));
  }

  /** By execution name, or the newest execution of a video id. */
  find(nameOrVideoId: string): ExecutionRecord | undefined {
    return this.read(nameOrVideoId) ?? this.all().find((r) => r.videoId === nameOrVideoId);
  }

  /** The executions of one deterministic name: `base` and its later attempts `base-2`, `base-3`…, newest first. */
  attempts(base: string): ExecutionRecord[] {
    const found: ExecutionRecord[] = [];
    for (let n = 1; ; n++) {
      const record = this.read(attemptName(base, n));
      if (!record) break;
      found.unshift(record);
    }
    return found;
  }

  lockPath(videoId: string): string {
    return join(this.dir, `${videoId}.lock`);
  }

  /**
   * Takes a video's lock if no running process holds it (taking over one whose holder is gone);
   * returns the release, or the holder when a running process has it.
   */
  tryLock(videoId: string): { release: () => void } | { holder: ProcessId } {
    privateFolder(this.dir);
    return tryLinkLock(this.lockPath(videoId), 'the lambda-hls home (its locks)');
  }

  /**
   * Holds a video while one conversion of it runs, so two `convert`s of the same file name take
   * turns instead of sharing one input key and, with the same options, writing the same functions
   * and work files at once (in AWS the execution name serialises the latter: one per name). A lock
   * whose holder has stopped — by pid and start time, so a pid used again does not count — is
   * taken over; after `timeoutMs` of waiting for a live one, LockTimeout names the lock file.
   * Returns the release.
   */
  async lock(
    videoId: string,
    onWait?: (holder: ProcessId, lockPath: string) => void,
    { pollMs = 200, timeoutMs = Number.POSITIVE_INFINITY, signal }: { pollMs?: number; timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<() => void> {
    const path = this.lockPath(videoId);
    const deadline = Date.now() + timeoutMs;
    let told = false;
    for (;;) {
      if (signal?.aborted) throw new Interrupted(`stopped by ${String(signal.reason)} while waiting for ${path}`);
      const taken = this.tryLock(videoId);
      if ('release' in taken) return taken.release;
      if (!told) onWait?.(taken.holder, path);
      told = true;
      if (Date.now() >= deadline) {
        throw new LockTimeout(
          `gave up after ${Math.round(timeoutMs / 1000)} s waiting for ${path}, held by process ${taken.holder.pid}` +
            `${taken.holder.host && taken.holder.host !== hostname() ? ` on ${taken.holder.host}` : ''}; ` +
            'if no lambda-hls is converting this file, delete that file (or run lambda-hls gc)',
        );
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(pollMs, Math.max(0, deadline - Date.now()))));
    }
  }

  /** Lock files whose holder has stopped, and locks a killed process was staging: what gc removes. Paths relative to the home folder. */
  deadLocks(): string[] {
    return this.filesEnding('')
      .filter((f) => this.isDead(f))
      .map((f) => `executions/${f}`);
  }

  /**
   * A lock whose holder is gone, a lock or record a killed writer staged, or a record no one can
   * read (a disk that filled as an earlier version wrote it): what gc removes from the history.
   */
  private isDead(file: string): boolean {
    if (file.endsWith('.lock')) return !lockHolder(join(this.dir, file));
    if (stagedLockDead(file)) return true;
    const stagedRecord = /\.json\.([0-9a-z.]+)$/.exec(file)?.[1];
    if (stagedRecord !== undefined) return !tagStillRunning(stagedRecord);
    if (file.endsWith('.json')) return this.unreadable(join(this.dir, file));
    if (file.endsWith('.events.jsonl')) return !existsSync(join(this.dir, file.replace(/\.events\.jsonl$/, '.json')));
    return false;
  }

  private unreadable(path: string): boolean {
    try {
      JSON.parse(readFileSync(path, 'utf8'));
      return false;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code !== 'ENOENT';
    }
  }

  /** Removes what gc found dead, unless it came alive meanwhile (a new convert took the lock). */
  removeDeadLock(file: string): void {
    const name = file.replace(/^executions\//, '');
    if (!this.isDead(name)) return;
    rmSync(join(this.dir, name), { force: true });
    // A damaged record's events go with it.
    if (name.endsWith('.json')) rmSync(join(this.dir, name.replace(/\.json$/, '.events.jsonl')), { force: true });
  }

  /** A name not used yet: the deterministic one, or with -2, -3… for a new attempt. */
  freshName(base: string): string {
    for (let n = 1; ; n++) if (!this.exists(attemptName(base, n))) return attemptName(base, n);
  }
}
