import type { OutputStream } from "./cliContext.js";

const BAR_WIDTH = 30;

/**
 * Progress of one long phase (encoding, indexing, searching). On a terminal, one line redrawn in
 * place with a bar; elsewhere (logs, CI) a plain line at every tenth of the work, because a
 * redrawn line turns into thousands of lines in a log file.
 */
export class ProgressLine {
  private readonly tty: boolean;
  private lastTenth = -1;
  private drawn = false;

  constructor(
    private readonly stream: OutputStream,
    private readonly label: string,
  ) {
    this.tty = Boolean(stream.isTTY);
  }

  update(done: number, total: number): void {
    if (!(total > 0)) return;
    const share = Math.min(1, Math.max(0, done / total));
    if (this.tty) {
      const filled = Math.round(share * BAR_WIDTH);
      this.stream.write(
        `\r${this.label} |${"█".repeat(filled)}${"░".repeat(BAR_WIDTH - filled)}| ${done}/${total} ${(share * 100).toFixed(0)}%`,
      );
      this.drawn = true;
      return;
    }
    const tenth = Math.floor(share * 10);
    if (tenth === this.lastTenth) return;
    this.lastTenth = tenth;
    this.stream.write(`${this.label}: ${done}/${total} (${Math.floor(share * 100)}%)\n`);
  }

  /** Ends the redrawn line so that what follows starts on its own. */
  stop(): void {
    if (this.drawn) this.stream.write("\n");
    this.drawn = false;
  }
}
