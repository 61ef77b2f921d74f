import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import * as errors from '../../src/core/errors';
import { INPUT_ERRORS, oneLineCause, TRANSIENT_ERRORS } from '../../src/core/errors';
import { parseExecutionInput } from '../../src/core/parse';

/** Every error class errors.ts exports but the two abstract bases (which no code throws). */
const classes = (Object.entries(errors) as [string, unknown][]).filter(
  (entry): entry is [string, new (message: string, options?: ErrorOptions) => Error] =>
    typeof entry[1] === 'function' &&
    (entry[1] as { prototype?: unknown }).prototype instanceof Error &&
    entry[1] !== errors.InputError &&
    entry[1] !== errors.TransientError,
);

type Rule = { ErrorEquals: string[] };
/** What Step Functions names a Lambda invocation refused for the account's (or function's) concurrency. */
const INVOCATION_THROTTLED = 'Lambda.TooManyRequestsException';
type State = { Type: string; Retry?: Rule[]; Catch?: Rule[]; ItemProcessor?: { States: Record<string, State> } };
function allStates(states: Record<string, State>): [string, State][] {
  return Object.entries(states).flatMap(([name, s]) => [
    [name, s] as [string, State],
    ...(s.ItemProcessor ? allStates(s.ItemProcessor.States) : []),
  ]);
}
const asl = parse(readFileSync(join(__dirname, '../../statemachines/convert-video.asl.yml'), 'utf8')) as { States: Record<string, State> };
const states = allStates(asl.States);

describe('typed errors', () => {
  it.each(classes)('%s carries its own name literally, as the state machine matches it', (className, ErrorClass) => {
    const error = new ErrorClass('why');
    expect(error.name).toBe(className);
    expect(error.message).toBe('why');
    expect(error).toBeInstanceOf(Error);
  });

  it('never retries an input error', () => {
    for (const [name, state] of states) {
      for (const rule of state.Retry ?? []) {
        for (const input of INPUT_ERRORS) expect([name, rule.ErrorEquals.includes(input)]).toEqual([name, false]);
      }
    }
  });

  it('retries exactly the transient errors in every Task except CleanUp, which retries everything', () => {
    for (const [name, state] of states.filter(([, s]) => s.Type === 'Task')) {
      const retried = (state.Retry ?? []).map((r) => r.ErrorEquals);
      // EncodeChunk's own invocation may be throttled by the account's concurrency: retried longer first.
      const expected =
        name === 'CleanUp'
          ? [['States.ALL']]
          : name === 'EncodeChunk'
            ? [[INVOCATION_THROTTLED], [...TRANSIENT_ERRORS]]
            : [[...TRANSIENT_ERRORS]];
      expect([name, retried]).toEqual([name, expected]);
    }
  });

  it("rides out a throttled EncodeChunk for minutes, not seconds: a neighbour's burst on the account's concurrency", () => {
    const encode = new Map(states).get('EncodeChunk') as State & { Retry: (Rule & Record<string, number | string>)[] };
    const throttled = encode.Retry[0]!;
    expect(throttled).toMatchObject({ ErrorEquals: [INVOCATION_THROTTLED], JitterStrategy: 'FULL' });
    const waits = Array.from({ length: Number(throttled.MaxAttempts) }, (_, k) =>
      Math.min(Number(throttled.IntervalSeconds) * Number(throttled.BackoffRate) ** k, Number(throttled.MaxDelaySeconds)),
    );
    const longest = waits.reduce((a, b) => a + b, 0);
    expect(longest).toBeGreaterThanOrEqual(600);
    expect(longest).toBeLessThan(900); // well within the execution, and no longer than one chunk's own timeout
  });

  it('sends every failure to CleanUp with one catch-all, since every error goes the same way', () => {
    const byName = new Map(states);
    for (const [name, state] of states.filter(
      ([n, s]) => !['Fail', 'Wait', 'Pass', 'Choice'].includes(s.Type) && n !== 'CleanUp' && n !== 'PackageBatch' && n !== 'EncodeChunk',
    )) {
      const [only, ...more] = (state.Catch ?? []) as (Rule & { Next: string })[];
      expect([name, only?.ErrorEquals, more]).toEqual([name, ['States.ALL'], []]);
      // Straight to CleanUp, or through a Wait that leads there (the Map waits for stragglers).
      const next = byName.get(only!.Next) as { Type: string; Next?: string } | undefined;
      const target = next?.Type === 'Wait' ? next.Next : only?.Next;
      expect([name, target]).toEqual([name, 'CleanUp']);
    }
    // A PackageBatch still running when its Map fails has up to its timeout to finish.
    const wait = byName.get('LetStragglersFinish') as unknown as { Seconds: number };
    const batch = byName.get('PackageBatch') as unknown as { TimeoutSeconds: number };
    expect(wait.Seconds).toBeGreaterThan(batch.TimeoutSeconds);
  });

  it('derives the lists from the bases: every InputError is an input error, every TransientError is retried, and nothing is both', () => {
    const inputs = classes.filter(([, C]) => new C('') instanceof errors.InputError).map(([n]) => n);
    const transient = classes.filter(([, C]) => new C('') instanceof errors.TransientError).map(([n]) => n);
    expect([...INPUT_ERRORS].sort()).toEqual(inputs.sort());
    for (const name of transient) expect(TRANSIENT_ERRORS).toContain(name);
    expect(inputs.filter((n) => TRANSIENT_ERRORS.includes(n))).toEqual([]);
    // Throttling is retried in a step and by the state machine alike: one list.
    for (const name of errors.THROTTLING_ERRORS) expect(TRANSIENT_ERRORS).toContain(name);
  });

  it('carries the error it was made from as its cause', () => {
    const reason = new Error('ECONNRESET');
    const error = new errors.TransientNetworkError('S3 went away', { cause: reason });
    expect(error.cause).toBe(reason);
    expect([error.name, error.message]).toEqual(['TransientNetworkError', 'S3 went away']);
  });

  it('lists only names that exist', () => {
    const known = new Set(classes.map(([n]) => n));
    for (const name of INPUT_ERRORS) expect(known.has(name)).toBe(true);
    expect(TRANSIENT_ERRORS).toContain('TooManyRequestsException');
  });
});

describe('oneLineCause', () => {
  it('unwraps the JSON cause AWS gives a Lambda error', () => {
    const cause = JSON.stringify({ errorType: 'NotMedia', errorMessage: '"a.mp4" has no video stream', trace: ['at x'] });
    expect(oneLineCause(cause)).toBe('"a.mp4" has no video stream');
  });
  it('folds a multi-line message into one line', () => {
    expect(oneLineCause(new Error('first\n  second'))).toBe('first second');
  });
});

describe('execution input', () => {
  it('names the field that is wrong', () => {
    expect(() => parseExecutionInput({ source: {}, revision: 'abcd1234' })).toThrow('source.key must be a non-empty string');
    expect(() => parseExecutionInput({ source: { key: 'a.mp4' }, revision: '../x' })).toThrow(/revision must be/);
    expect(() => parseExecutionInput({ source: { key: 'a.mp4' }, revision: 'abcd1234', options: { segmentSeconds: 0 } })).toThrow(
      'options.segmentSeconds must be between 1 and 60',
    );
    expect(() => parseExecutionInput({ source: { key: 'a.mp4' }, revision: 'abcd1234', options: { profile: '4k' } })).toThrow(
      /options.profile/,
    );
    expect(() => parseExecutionInput({ source: { key: 'a.mp4' }, revision: 'abcd1234', options: { transcode: 'yes' } })).toThrow(
      'options.transcode must be true or false',
    );
  });
  it('keeps transcode only when true, so the revisions of other runs do not change', () => {
    const options = (transcode: boolean) =>
      parseExecutionInput({ source: { key: 'a.mp4' }, revision: 'abcd1234', options: { transcode } }).options;
    expect(options(true)).toEqual({ segmentSeconds: 6, profile: 'source', transcode: true, ladder: 'auto' });
    expect(options(false)).toEqual({ segmentSeconds: 6, profile: 'source', ladder: 'auto' });
  });
  it('fills in the default options: 6-s segments (Apple 7.5), a ladder (9.9); --profile 360p is one rendition', () => {
    expect(parseExecutionInput({ source: { key: 'a.mp4' }, revision: 'abcd1234' }).options).toEqual({
      segmentSeconds: 6,
      profile: 'source',
      ladder: 'auto',
    });
    expect(parseExecutionInput({ source: { key: 'a.mp4' }, revision: 'abcd1234', options: { profile: '360p' } }).options).toEqual({
      segmentSeconds: 6,
      profile: '360p',
      ladder: 'source',
    });
    expect(() => parseExecutionInput({ source: { key: 'a.mp4' }, options: { profile: '360p', ladder: 'auto' } })).toThrow(
      'options.ladder must be "source" with "profile": "360p" (a profile is one rendition; a ladder makes its own rungs)',
    );
  });
});
