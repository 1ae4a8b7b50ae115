/**
 * The arithmetic of the job view's plot: extents, linear scales, "nice" ticks and an axis'
 * SI prefix. Pure module (no DOM, no JupyterLab imports), unit-tested with `node --test`.
 */

/** A finite number, or null for a missing point (NaN in the data file). */
export type Value = number | null;

/** The smallest and largest finite values of some columns; null when there is none. */
export function extent(...columns: readonly Value[][]): [number, number] | null {
  let low = Infinity;
  let high = -Infinity;
  for (const column of columns) {
    for (const v of column) {
      if (v === null || !Number.isFinite(v)) {
        continue;
      }
      low = Math.min(low, v);
      high = Math.max(high, v);
    }
  }
  return low <= high ? [low, high] : null;
}

/**
 * The domain to draw: the extent, widened around a single value (a flat line still gets an
 * axis), and a little padding so points do not sit on the frame.
 */
export function paddedDomain(range: [number, number] | null, pad = 0.04): [number, number] {
  if (range === null) {
    return [0, 1];
  }
  let [low, high] = range;
  if (low === high) {
    const half = low === 0 ? 1 : Math.abs(low) * 0.1;
    return [low - half, high + half];
  }
  const margin = (high - low) * pad;
  low -= margin;
  high += margin;
  return [low, high];
}

/** Maps a domain linearly onto a range of pixels (either may run backwards). */
export function linearScale(
  domain: [number, number],
  range: [number, number]
): (v: number) => number {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  const span = d1 - d0 || 1;
  return v => r0 + ((v - d0) / span) * (r1 - r0);
}

/** 1, 2, 2.5 or 5 times a power of ten: the step of about `count` ticks across a span. */
export function niceStep(span: number, count = 5): number {
  if (!(span > 0) || !Number.isFinite(span)) {
    return 1;
  }
  const raw = span / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const fraction = raw / power;
  // The nearest nice fraction (geometric midpoints), so the count is about the one asked for.
  const nice = fraction < 1.5 ? 1 : fraction < 2.25 ? 2 : fraction < 3.5 ? 2.5 : fraction < 7.5 ? 5 : 10;
  return nice * power;
}

/** The multiples of the nice step inside [low, high], without binary noise (0.30000000000000004). */
export function niceTicks(low: number, high: number, count = 5): number[] {
  if (high < low) {
    [low, high] = [high, low];
  }
  const step = niceStep(high - low, count);
  const first = Math.ceil(low / step - 1e-9);
  const last = Math.floor(high / step + 1e-9);
  const decimals = decimalsOf(step);
  const ticks: number[] = [];
  for (let i = first; i <= last && ticks.length < 50; i++) {
    ticks.push(Number((i * step).toFixed(decimals)));
  }
  return ticks;
}

/** How many decimals show a step exactly (0.25 -> 2, 50 -> 0). */
export function decimalsOf(step: number): number {
  if (!Number.isFinite(step) || step <= 0) {
    return 0;
  }
  for (let d = 0; d < 15; d++) {
    if (Math.abs(Math.round(step * 10 ** d) - step * 10 ** d) < 1e-6) {
      return d;
    }
  }
  return 15;
}

const PREFIXES: [number, string][] = [
  [1e12, 'T'],
  [1e9, 'G'],
  [1e6, 'M'],
  [1e3, 'k'],
  [1, ''],
  [1e-3, 'm'],
  [1e-6, 'µ'],
  [1e-9, 'n'],
  [1e-12, 'p'],
  [1e-15, 'f']
];

/** Units that take an SI prefix (a.u., %, dB and unitless values do not). */
const PREFIXABLE = /^(s|Hz|V|A|W|Ω|ohm|F|H|T|m|g|K|rad|dBm)$/;

/**
 * How an axis shows its values: divided by `factor`, with `unit` (prefixed) in its label.
 * 2e-7 s -> {factor: 1e-9, unit: 'ns'}; 7.01e9 Hz -> {factor: 1e9, unit: 'GHz'}.
 */
export function axisUnit(maxAbs: number, unit: string): { factor: number; unit: string } {
  if (!PREFIXABLE.test(unit) || !(maxAbs > 0) || !Number.isFinite(maxAbs)) {
    return { factor: 1, unit };
  }
  for (const [factor, prefix] of PREFIXES) {
    if (maxAbs >= factor * 0.9999) {
      return { factor, unit: prefix + unit };
    }
  }
  const [factor, prefix] = PREFIXES[PREFIXES.length - 1];
  return { factor, unit: prefix + unit };
}

/** A tick's text: as many decimals as its step needs, or exponent form for huge/tiny values. */
export function formatTick(value: number, step: number): string {
  const magnitude = Math.max(Math.abs(value), Math.abs(step));
  if (magnitude !== 0 && (magnitude >= 1e6 || magnitude < 1e-3)) {
    const digits = Math.max(0, Math.min(6, decimalsOf(step / 10 ** Math.floor(Math.log10(magnitude)))));
    return value === 0 ? '0' : value.toExponential(digits);
  }
  return value.toFixed(Math.min(decimalsOf(step), 10));
}

/** A parameter's value in a summary table: 6 significant digits, or the value as text. */
export function formatValue(value: unknown): string {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) {
      return String(value);
    }
    if (value !== 0 && (Math.abs(value) >= 1e6 || Math.abs(value) < 1e-3)) {
      return value.toExponential(4);
    }
    return String(Number(value.toPrecision(6)));
  }
  if (value === null || value === undefined) {
    return '';
  }
  return typeof value === 'string' ? value : JSON.stringify(value);
}
