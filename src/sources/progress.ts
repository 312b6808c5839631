import { formatBytes } from './errors';

/** Where the bytes of a load come from. */
export type LoadOrigin = 'network' | 'cache' | 'file';

/** One progress report while a model loads; plain data, safe to postMessage. */
export interface LoadProgress {
  /** 'warm-up': the weights are in; a first short run does the backend's one-time work (packing weights, compiling shaders). */
  stage: 'config' | 'weights' | 'warm-up' | 'ready';
  origin: LoadOrigin;
  /** The file being read: 'config.json' or 'model.safetensors'. */
  file: string;
  /** Bytes read so far / bytes this load will read in total (header + used tensors, or the whole file). */
  bytesDone: number;
  bytesTotal: number;
  /** 0..100, 100 exactly when every byte is in. */
  percent: number;
  /** Measured over the last few seconds; null until there is enough to measure. */
  bytesPerSecond: number | null;
  /** Seconds left at the measured speed; null when unknown. */
  etaSeconds: number | null;
  /** Bytes of tensors the model does not use (attn.bias masks) that were not downloaded. */
  bytesSkipped: number;
  tensorsDone: number;
  tensorsTotal: number;
  /** How many times a dropped connection was resumed. */
  resumes: number;
  /** One line for people: 'Downloading model.safetensors: 120 MB of 498 MB (24%) · 12.3 MB/s · 31 s left'. */
  message: string;
}

export type ProgressListener = (progress: LoadProgress) => void;

const SPEED_WINDOW_MS = 3000;
const MIN_SPEED_SPAN_MS = 250;
/** Reports at most this often, plus the final one, so a fast cache read does not flood the worker channel. */
const REPORT_INTERVAL_MS = 100;

/**
 * Counts bytes and turns them into LoadProgress reports with speed and ETA measured over a
 * sliding window (a whole-download average would hide a stall).
 */
export class ProgressTracker {
  private bytesDone = 0;
  private bytesTotal = 0;
  private bytesSkipped = 0;
  private tensorsDone = 0;
  private tensorsTotal = 0;
  private resumes = 0;
  private stage: LoadProgress['stage'] = 'config';
  private file = 'config.json';
  private readonly samples: { at: number; bytes: number }[] = [];
  private lastReportAt = -Infinity;

  constructor(
    readonly origin: LoadOrigin,
    private readonly listener: ProgressListener | undefined,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Starts a file: resets counts, totals and the speed window. */
  begin(stage: LoadProgress['stage'], file: string, bytesTotal: number): void {
    this.stage = stage;
    this.file = file;
    this.bytesDone = 0;
    this.bytesTotal = bytesTotal;
    this.samples.length = 0;
    this.samples.push({ at: this.now(), bytes: 0 });
    this.report(true);
  }

  setTotals(totals: { bytesTotal?: number; bytesSkipped?: number; tensorsTotal?: number }): void {
    if (totals.bytesTotal !== undefined) this.bytesTotal = totals.bytesTotal;
    if (totals.bytesSkipped !== undefined) this.bytesSkipped = totals.bytesSkipped;
    if (totals.tensorsTotal !== undefined) this.tensorsTotal = totals.tensorsTotal;
    this.report(true);
  }

  addBytes(count: number): void {
    this.bytesDone += count;
    const at = this.now();
    this.samples.push({ at, bytes: this.bytesDone });
    while (this.samples.length > 2 && at - this.samples[1].at > SPEED_WINDOW_MS) this.samples.shift();
    this.report(this.bytesDone === this.bytesTotal);
  }

  tensorDone(): void {
    this.tensorsDone++;
    this.report(this.tensorsDone === this.tensorsTotal);
  }

  resumed(): void {
    this.resumes++;
    this.report(true);
  }

  /** The weights are in; the model's first run (GPT2.warmUp) follows. */
  warmingUp(): void {
    this.stage = 'warm-up';
    this.report(true);
  }

  finish(): void {
    this.stage = 'ready';
    this.report(true);
  }

  snapshot(): LoadProgress {
    const speed = this.speed();
    const left = Math.max(0, this.bytesTotal - this.bytesDone);
    const percent = this.bytesTotal > 0 ? Math.min(100, (100 * this.bytesDone) / this.bytesTotal) : 0;
    const progress: LoadProgress = {
      stage: this.stage,
      origin: this.origin,
      file: this.file,
      bytesDone: this.bytesDone,
      bytesTotal: this.bytesTotal,
      percent: this.bytesDone === this.bytesTotal && this.bytesTotal > 0 ? 100 : Math.min(99.9, percent),
      bytesPerSecond: speed,
      etaSeconds: speed && speed > 0 ? left / speed : left === 0 ? 0 : null,
      bytesSkipped: this.bytesSkipped,
      tensorsDone: this.tensorsDone,
      tensorsTotal: this.tensorsTotal,
      resumes: this.resumes,
      message: '',
    };
    progress.message = describeProgress(progress);
    return progress;
  }

  private speed(): number | null {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (!first || !last || last.at - first.at < MIN_SPEED_SPAN_MS) return null;
    return ((last.bytes - first.bytes) * 1000) / (last.at - first.at);
  }

  private report(force: boolean): void {
    if (!this.listener) return;
    const at = this.now();
    if (!force && at - this.lastReportAt < REPORT_INTERVAL_MS) return;
    this.lastReportAt = at;
    this.listener(this.snapshot());
  }
}

const VERBS: Record<LoadOrigin, string> = { network: 'Downloading', cache: 'Reading cached', file: 'Reading' };

export function describeProgress(p: LoadProgress): string {
  if (p.stage === 'ready') return `Loaded (${formatBytes(p.bytesDone)} read)`;
  if (p.stage === 'warm-up') return `Preparing the model: a first short run (${formatBytes(p.bytesDone)} read)`;
  if (p.stage === 'config' && p.bytesTotal === 0) return `${VERBS[p.origin]} ${p.file}…`;
  const parts = [`${VERBS[p.origin]} ${p.file}: ${formatBytes(p.bytesDone)} of ${formatBytes(p.bytesTotal)} (${Math.floor(p.percent)}%)`];
  if (p.bytesPerSecond !== null) parts.push(`${formatBytes(p.bytesPerSecond)}/s`);
  if (p.etaSeconds !== null && p.percent < 100) parts.push(`${formatDuration(p.etaSeconds)} left`);
  if (p.resumes > 0) parts.push(`resumed ${p.resumes}×`);
  return parts.join(' · ');
}

export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${Math.ceil(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}
