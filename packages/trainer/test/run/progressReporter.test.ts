import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { ProgressReporter } from "../../src/run/progressReporter.js";

function sink(isTTY: boolean): Writable & { text: () => string; isTTY: boolean; columns: number } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  }) as Writable & { text: () => string; isTTY: boolean; columns: number };
  stream.isTTY = isTTY;
  stream.columns = 120;
  stream.text = () => chunks.join("");
  return stream;
}

describe("ProgressReporter", () => {
  it("prints plain lines every logEvery steps when the stream is not a TTY", () => {
    const stream = sink(false);
    let t = 0;
    const p = new ProgressReporter({ stream, logEvery: 2, now: () => t });
    p.start(5, 1);
    for (let step = 2; step <= 5; step++) {
      t += 1000;
      p.update(step, { loss: 1 / step, gradNorm: 3 });
    }
    p.log("done");
    p.stop();
    expect(stream.text().split("\n")).toEqual([
      "training: step 1/5 (resumed)",
      "step 2/5 loss=0.5000 gradNorm=3.0000 elapsed 1s eta 3s",
      "step 4/5 loss=0.2500 gradNorm=3.0000 elapsed 3s eta 1s",
      "step 5/5 loss=0.2000 gradNorm=3.0000 elapsed 4s eta 0s",
      "done",
      "",
    ]);
  });

  it("takes the ETA from the time budget when it ends training before the step cap", () => {
    const stream = sink(false);
    let t = 0;
    const p = new ProgressReporter({ stream, logEvery: 1, now: () => t });
    // 1,000 steps at 1 s a step would take 16m40s; the 60 s budget ends training first.
    p.start(1000, 0, 60_000);
    t += 1000;
    p.update(1, { loss: 1 });
    t += 50_000;
    p.update(2, { loss: 1 });
    p.stop();
    expect(stream.text().split("\n").slice(1, 3)).toEqual([
      "step 1/1000 loss=1.0000 elapsed 1s eta 59s (time budget)",
      "step 2/1000 loss=1.0000 elapsed 51s eta 9s (time budget)",
    ]);
    // With a budget longer than the steps need, the steps decide.
    const other = sink(false);
    t = 0;
    const q = new ProgressReporter({ stream: other, logEvery: 1, now: () => t });
    q.start(4, 0, 3_600_000);
    t += 2000;
    q.update(1, { loss: 1 });
    expect(other.text()).toContain("step 1/4 loss=1.0000 elapsed 2s eta 6s\n");
    expect(() => q.start(4, 0, Number.NaN)).toThrow(/timeBudgetMs must be a number ≥ 0 \(Infinity: none\), got NaN/);
    expect(() => q.start(4, -1)).toThrow(/startStep must be a non-negative integer, got -1/);
  });

  it("draws a cli-progress bar with the loss on a TTY, with messages above it", () => {
    const stream = sink(true);
    const p = new ProgressReporter({ stream });
    p.start(10);
    p.update(3, { loss: 0.125 });
    p.log("checkpoint saved");
    p.stop();
    const text = stream.text();
    expect(text).toContain("3/10 steps | loss 0.1250");
    expect(text).toContain("checkpoint saved");
    expect(text).toContain("ETA");
    expect(text).not.toContain("{eta}");
  });

  it("names bad options", () => {
    expect(() => new ProgressReporter({ logEvery: 0 })).toThrow(/options\.logEvery must be a positive integer, got 0/);
    expect(() => new ProgressReporter({ stream: {} as NodeJS.WritableStream })).toThrow(
      /options\.stream must be a writable stream/,
    );
  });
});
