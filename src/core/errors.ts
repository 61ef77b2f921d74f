// Every expected failure is a class with a literal `name`: the state machine's Retry and Catch
// match on that name, and esbuild may rename classes, but it never rewrites a string literal.
// Messages are one line a person can act on; they become the execution's `Cause`. An error made
// from another carries it as `cause` (`new X(message, { cause })`), for logs and debuggers.
//
// Each class extends one of two bases, and the state machine's lists are derived from them: an
// InputError is caught by name and never retried (it fails at once, through CleanUp); a
// TransientError is retried. Errors of neither base (integrity, capacity, Interrupted) fail too.

/** The upload, the request or the machine's room for it is wrong: another try would fail the same way. */
export abstract class InputError extends Error {}

/** Another try may succeed: throttling, a network or server fault, a function not yet Active. */
export abstract class TransientError extends Error {}

/** Input errors: the upload itself is wrong. Never retried. */
export class UnsupportedExtension extends InputError {
  override readonly name = 'UnsupportedExtension' as const;
}
export class EmptyInput extends InputError {
  override readonly name = 'EmptyInput' as const;
}
export class InputTooLarge extends InputError {
  override readonly name = 'InputTooLarge' as const;
}
export class NotMedia extends InputError {
  override readonly name = 'NotMedia' as const;
}
export class NameTooLong extends InputError {
  override readonly name = 'NameTooLong' as const;
}
/** The source object is not (or no longer) in the input bucket. */
export class InputNotFound extends InputError {
  override readonly name = 'InputNotFound' as const;
}
/** The execution input (or a step's input) does not have the expected shape. */
export class InvalidRequest extends InputError {
  override readonly name = 'InvalidRequest' as const;
}
/**
 * A run asked to build a revision that is (or was) published: its functions and playlist are what
 * players hold, so they are never written again (a console execution whose copied input names the
 * served revision). Nothing is touched; a run without `revision` builds a new one.
 */
export class RevisionPublished extends InputError {
  override readonly name = 'RevisionPublished' as const;
}
/**
 * The disk a step writes to is full (ENOSPC; locally the home's, in Lambda /tmp): not the input's
 * fault, and retrying at once would fill it again. The cause says where; `lambda-hls gc` removes
 * what the run left.
 */
export class NoSpace extends InputError {
  override readonly name = 'NoSpace' as const;
}

/** The error as NoSpace when the system said the disk is full (ENOSPC, EDQUOT), else as it was. */
export function asNoSpace(error: unknown, where: string): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code !== 'ENOSPC' && code !== 'EDQUOT') return error;
  return new NoSpace(`no space left on the disk of ${where}: free some, then convert again (lambda-hls gc removes what this run left)`, {
    cause: error,
  });
}

/**
 * A later upload of the same key is served (or being registered) already: this run, of an older
 * upload, must not replace it. S3 does not deliver notifications in order; their sequencer does.
 */
export class Superseded extends InputError {
  override readonly name = 'Superseded' as const;
}
/** The video was deleted (`lambda-hls delete`) while this run converted it: its route is not brought back. */
export class VideoDeleted extends InputError {
  override readonly name = 'VideoDeleted' as const;
}
/**
 * An MP4 whose index declares more samples in a track than the file has bytes: media that is not
 * there, which ffmpeg would still allocate an index entry for, sample by sample (a 6 KB file can
 * declare 80 million). Refused before ffprobe reads it.
 */
export class CorruptIndex extends InputError {
  override readonly name = 'CorruptIndex' as const;
}
/**
 * ffprobe or ffmpeg needed more memory than it is allowed (LAMBDA_HLS_MEDIA_MEMORY_MB): an input
 * whose headers or index are far larger than a video's, or a tool at its limit.
 */
export class MediaTooDemanding extends InputError {
  override readonly name = 'MediaTooDemanding' as const;
}
/** The file ends before the media its header declares: an upload cut short, or still being written. */
export class TruncatedInput extends InputError {
  override readonly name = 'TruncatedInput' as const;
}
/** ffmpeg read the file's header but could not turn it into segments (truncated, corrupt). */
export class SegmentationFailed extends InputError {
  override readonly name = 'SegmentationFailed' as const;
}
/**
 * ffmpeg could not make a video's poster or storyboard from the file. MakePreviews says so in its
 * result and the video is published without them: they are not worth losing the video over.
 */
export class PreviewFailed extends InputError {
  override readonly name = 'PreviewFailed' as const;
}
/**
 * A caption file (or a source's text track) that cannot be shown: not UTF-8, not SubRip or
 * WebVTT, or no cue in the video's time. MakeCaptions leaves that track out and says why; the
 * video is published with the others.
 */
export class CaptionInvalid extends InputError {
  override readonly name = 'CaptionInvalid' as const;
}
/** One segment is larger than a code package may hold. */
export class SegmentTooLarge extends InputError {
  override readonly name = 'SegmentTooLarge' as const;
}

/**
 * The transcode cannot fit the configured limits even split into chunks (one segment would run past
 * the encoding function's timeout, or the whole run past the execution's): checked before anything is made.
 */
export class TranscodeTooLarge extends InputError {
  override readonly name = 'TranscodeTooLarge' as const;
}

/** Capacity: checked before any function is created. */
export class CodeStorageQuotaExceeded extends Error {
  override readonly name = 'CodeStorageQuotaExceeded' as const;
}

/** Integrity: the stored package is not the one we wrote, or a playlist breaks RFC 8216. */
export class PackageMismatch extends Error {
  override readonly name = 'PackageMismatch' as const;
}
export class PlaylistInvalid extends Error {
  override readonly name = 'PlaylistInvalid' as const;
}

/**
 * Transient: the same name AWS Lambda uses for throttling (HTTP 429), so one Retry entry in the
 * state machine covers the AWS adapter and the local one alike.
 */
export class TooManyRequestsException extends TransientError {
  override readonly name = 'TooManyRequestsException' as const;
}
/** Transient: Lambda's name for an operation on a function still Pending (or updating); here, one not Active in time. */
export class ResourceConflictException extends TransientError {
  override readonly name = 'ResourceConflictException' as const;
}
/** A network fault talking to a store (connection reset, 5xx). Retried. */
export class TransientNetworkError extends TransientError {
  override readonly name = 'TransientNetworkError' as const;
}

/** The run was stopped on purpose (Ctrl-C, SIGTERM, SIGHUP): not the input's fault, never retried. */
export class Interrupted extends Error {
  override readonly name = 'Interrupted' as const;
}

/** Every InputError, by class: what `INPUT_ERRORS` names. */
const INPUT_ERROR_CLASSES = [
  UnsupportedExtension,
  EmptyInput,
  InputTooLarge,
  NotMedia,
  NameTooLong,
  InputNotFound,
  InvalidRequest,
  RevisionPublished,
  Superseded,
  VideoDeleted,
  TruncatedInput,
  CorruptIndex,
  MediaTooDemanding,
  NoSpace,
  SegmentationFailed,
  SegmentTooLarge,
  TranscodeTooLarge,
  PreviewFailed,
  CaptionInvalid,
] satisfies (new (
  message: string,
) => InputError)[];

/** The product's own TransientErrors. */
const TRANSIENT_ERROR_CLASSES = [TooManyRequestsException, TransientNetworkError, ResourceConflictException] satisfies (new (
  message: string,
) => TransientError)[];

const nameOf = (error: new (message: string) => Error): string => new error('').name;

/** Names the state machine treats as input errors: caught by name, never retried. */
export const INPUT_ERRORS: readonly string[] = INPUT_ERROR_CLASSES.map(nameOf);

/**
 * The names services throttle with, as their SDK errors carry them (Lambda TooManyRequestsException,
 * Step Functions ThrottlingException, S3 SlowDown, EC2-style RequestLimitExceeded): retried in a step
 * with backoff (src/core/retry.ts), kept by name when they reach the state machine, which retries them too.
 */
export const THROTTLING_ERRORS: readonly string[] = ['TooManyRequestsException', 'ThrottlingException', 'SlowDown', 'RequestLimitExceeded'];

/**
 * Names the state machine retries with backoff and jitter: the throttling names, the product's own
 * TransientErrors, and what Lambda's invocation reports as Step Functions names it (`Lambda.*`).
 * The ASL's one `&transient` list is held equal to it.
 */
export const TRANSIENT_ERRORS: readonly string[] = [
  ...new Set([
    ...THROTTLING_ERRORS,
    ...TRANSIENT_ERROR_CLASSES.map(nameOf),
    'Lambda.ServiceException',
    'Lambda.AWSLambdaException',
    'Lambda.SdkClientException',
    'Lambda.TooManyRequestsException',
    // The invocation itself timed out in Lambda's front end (AWS lists it among the errors to retry).
    'Lambda.ClientExecutionTimeoutException',
  ]),
];

/**
 * A one-line cause for any thrown value. AWS wraps a Lambda's error as a JSON `Cause`
 * (`{"errorType","errorMessage","trace"}`); unwrap it so people read the message itself.
 */
export function oneLineCause(value: unknown): string {
  let text: string;
  if (value instanceof Error) text = value.message;
  else if (typeof value === 'string') text = value;
  else text = JSON.stringify(value) ?? String(value);
  if (text.startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed && typeof parsed === 'object' && 'errorMessage' in parsed) {
        const message = (parsed as { errorMessage: unknown }).errorMessage;
        if (typeof message === 'string') text = message;
      }
    } catch {
      // not JSON after all: keep the text as it is
    }
  }
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
