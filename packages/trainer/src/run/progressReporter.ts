import cliProgress from "cli-progress";

export interface ProgressOptions {
  /** Where progress goes. Default process.stderr. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /**
   * Draw a live bar (true) or print plain lines (false). Default: whether the stream is a TTY. The
   * bar's cursor movements need a stream whose `isTTY` is true; on another stream it degrades.
   */
  tty?: boolean;
  /** Plain mode: print a line every this many steps (and at the last). Default 10. */
  logEvery?: number;
  /** Clock in ms for the plain-mode ETA; injectable for tests. Default Date.now. */
  now?: () => number;
}

const formatMetric = (v: number) =>
  Number.isFinite(v) ? (Math.abs(v) >= 1e-3 || v === 0 ? v.toFixed(4) : v.toExponential(3)) : String(v);

function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, "0")}m` : m > 0 ? `${m}m${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}

/**
 * Training progress: on a terminal, a cli-progress bar with the step, loss and ETA that messages
 * print above; elsewhere (CI logs, files), one plain line every `logEvery` steps with the same
 * figures, since a redrawn bar turns into noise in a log file.
 */
export class ProgressReporter {
  private readonly stream: NodeJS.WritableStream;
  private readonly tty: boolean;
  private readonly logEvery: number;
  private readonly now: () => number;
  private multi: cliProgress.MultiBar | undefined;
  private bar: cliProgress.SingleBar | undefined;
  private total = 0;
  private startStep = 0;
  private startTime = 0;
  /** When the time budget stops training, on `now`'s clock (Infinity: no budget). */
  private deadline = Number.POSITIVE_INFINITY;

  constructor(options: ProgressOptions = {}) {
    this.stream = options.stream ?? process.stderr;
    if (typeof this.stream?.write !== "function")
      throw new Error("ProgressReporter: options.stream must be a writable stream");
    this.tty = options.tty ?? Boolean((this.stream as { isTTY?: boolean }).isTTY);
    this.logEvery = options.logEvery ?? 10;
    if (!Number.isInteger(this.logEvery) || this.logEvery < 1) {
      throw new Error(`ProgressReporter: options.logEvery must be a positive integer, got ${String(options.logEvery)}`);
    }
    this.now = options.now ?? Date.now;
  }

  /**
   * Begins a run of `total` steps, of which `startStep` are already done (a resumed run). With
   * `timeBudgetMs`, training also stops that long from now, and the ETA is whichever of the two
   * limits comes first (a 1,000-step cap under a 20-minute budget must not promise hours).
   */
  start(total: number, startStep = 0, timeBudgetMs = Number.POSITIVE_INFINITY): void {
    if (!Number.isInteger(total) || total < 0)
      throw new Error(`ProgressReporter.start: total must be a non-negative integer, got ${String(total)}`);
    // A resumed run may already be past a lowered step cap: it then reports and stops.
    if (!Number.isInteger(startStep) || startStep < 0)
      throw new Error(`ProgressReporter.start: startStep must be a non-negative integer, got ${String(startStep)}`);
    if (typeof timeBudgetMs !== "number" || Number.isNaN(timeBudgetMs) || timeBudgetMs < 0)
      throw new Error(
        `ProgressReporter.start: timeBudgetMs must be a number ≥ 0 (Infinity: none), got ${String(timeBudgetMs)}`,
      );
    this.total = total;
    this.startStep = startStep;
    this.startTime = this.now();
    this.deadline = this.startTime + timeBudgetMs;
    if (!this.tty) {
      this.write(`training: step ${startStep}/${total}${startStep > 0 ? " (resumed)" : ""}`);
      return;
    }
    this.multi = new cliProgress.MultiBar(
      {
        stream: this.stream,
        // Our own ETA: cli-progress's counts only the steps left, not the time budget.
        format: "train |{bar}| {value}/{total} steps | loss {loss} | {percentage}% | ETA {eta}",
        hideCursor: true,
        gracefulExit: false,
        etaBuffer: 50,
        noTTYOutput: false,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar = this.multi.create(total, startStep, { loss: "-", eta: "-" });
  }

  update(step: number, metrics: Record<string, number>): void {
    const plainLine = !this.bar && (step % this.logEvery === 0 || step === this.total);
    if (!this.bar && !plainLine) return;
    const now = this.now();
    const eta = this.eta(step, now);
    if (this.bar) {
      this.bar.update(step, { loss: formatMetric(metrics.loss ?? Number.NaN), eta: eta ?? "-" });
      return;
    }
    const figures = Object.entries(metrics)
      .map(([k, v]) => `${k}=${formatMetric(v)}`)
      .join(" ");
    this.write(
      `step ${step}/${this.total} ${figures} elapsed ${formatDuration(now - this.startTime)}${eta ? ` eta ${eta}` : ""}`,
    );
  }

  /** Time left at `step`: the steps left at the pace so far, or the time budget left if that ends first. */
  private eta(step: number, now: number): string | null {
    const done = step - this.startStep;
    const byBudget = this.deadline - now;
    if (done <= 0) return Number.isFinite(byBudget) ? `${formatDuration(byBudget)} (time budget)` : null;
    const bySteps = ((now - this.startTime) / done) * (this.total - step);
    return byBudget < bySteps ? `${formatDuration(byBudget)} (time budget)` : formatDuration(bySteps);
  }

  /** A message line that does not break the bar. */
  log(message: string): void {
    if (this.multi) {
      this.multi.log(`${message}\n`);
      // Redraw now: cli-progress otherwise prints logged lines on its next timer tick, and drops
      // them if the bar stops first.
      this.multi.update();
    } else this.write(message);
  }

  stop(): void {
    this.multi?.stop();
    this.multi = undefined;
    this.bar = undefined;
  }

  private write(line: string): void {
    this.stream.write(`${line}\n`);
  }
}
