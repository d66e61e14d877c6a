/**
 * Line and bar colours: Okabe–Ito's colour-blind-safe set (minus its yellow, which is unreadable on
 * white), repeated when there are more series than colours.
 */
const PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#56B4E9", "#E69F00", "#000000"] as const;

export const seriesColor = (index: number): string => PALETTE[index % PALETTE.length] as string;
