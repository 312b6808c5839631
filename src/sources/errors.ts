/**
 * One error type for everything that can go wrong while finding and fetching a model, so the UI
 * can show `message` as-is (it says what happened and what to do) and offer a retry when
 * `retryable` is true.
 */
export type SourceErrorKind =
  | 'bad-spec' // the model name/spec could not be understood
  | 'not-found' // 404: no such repo, revision or file
  | 'not-gpt2' // the checkpoint is not a GPT-2 this app can run
  | 'network' // no connection, DNS, CORS, connection refused
  | 'http' // any other HTTP failure status
  | 'interrupted' // the connection dropped and resuming did not succeed
  | 'corrupt' // sizes or bytes do not add up
  | 'quota' // the browser has no room to keep the model
  | 'aborted' // the caller cancelled
  | 'needs-confirmation' // a big download was not started: the caller asked to be asked first (DownloadConfirmationError)
  | 'unsupported'; // the environment lacks something (e.g. no Cache Storage)

export class ModelSourceError extends Error {
  override readonly name = 'ModelSourceError';

  constructor(
    readonly kind: SourceErrorKind,
    message: string,
    readonly retryable = false,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A download bigger than LoadOptions.askAboveBytes was not started; `bytes` is its size. */
export class DownloadConfirmationError extends ModelSourceError {
  constructor(
    label: string,
    readonly bytes: number,
  ) {
    super('needs-confirmation', `${label} is a ${formatBytes(bytes)} download. It was not started: confirm to download it.`);
  }
}

export function isAbortError(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || (error instanceof ModelSourceError && error.kind === 'aborted'));
}

export function isQuotaError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  // Chrome/Firefox: DOMException 'QuotaExceededError'; Node fs: ENOSPC / EDQUOT.
  const code = (error as { code?: unknown }).code;
  return error.name === 'QuotaExceededError' || code === 'ENOSPC' || code === 'EDQUOT';
}

export function abortedError(what: string): ModelSourceError {
  return new ModelSourceError('aborted', `Loading ${what} was cancelled.`, true);
}

/** Human-friendly byte counts for messages: 548 MB, 1.52 GB, 6.5 kB. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return '? bytes';
  const units = ['bytes', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  if (unit === 0) return `${value} ${value === 1 ? 'byte' : 'bytes'}`;
  return `${value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2)} ${units[unit]}`;
}
