/**
 * The live plot of an experiment's data as SVG (no plotting library): axes with ticks and
 * labels with units, points and lines per y dataset against the plot's x, and the fit curve
 * overlaid when there is one.
 */
import type { DataColumn } from '../api';
import type { IPlotData } from './data';
import {
  axisUnit,
  extent,
  formatTick,
  linearScale,
  niceStep,
  niceTicks,
  paddedDomain
} from './scales';

const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 720;
const HEIGHT = 340;
const MARGIN = { left: 72, right: 16, top: 28, bottom: 48 };
/** Above this many points per dataset, lines only: thousands of circles cost more than they show. */
const MAX_MARKERS = 2000;

function el(name: string, attrs: Record<string, string | number> = {}, text = ''): SVGElement {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) {
    node.setAttribute(key, String(value));
  }
  if (text) {
    node.textContent = text;
  }
  return node;
}

/** "length (ns)", "i, q (a.u.)". */
function axisLabel(names: string[], unit: string): string {
  return unit ? `${names.join(', ')} (${unit})` : names.join(', ');
}

/** An SVG path through the points, broken where a value is missing. */
function pathOf(xs: DataColumn, ys: DataColumn, sx: (v: number) => number, sy: (v: number) => number): string {
  const parts: string[] = [];
  let pen = 'M';
  for (let i = 0; i < Math.min(xs.length, ys.length); i++) {
    const x = xs[i];
    const y = ys[i];
    if (x === null || y === null || !Number.isFinite(x) || !Number.isFinite(y)) {
      pen = 'M';
      continue;
    }
    parts.push(`${pen}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`);
    pen = 'L';
  }
  return parts.join('');
}

interface IAxis {
  scale: (v: number) => number;
  ticks: number[];
  step: number;
  factor: number;
  unit: string;
}

function makeAxis(values: DataColumn[], unit: string, range: [number, number]): IAxis {
  const domain = paddedDomain(extent(...values));
  const { factor, unit: shown } = axisUnit(Math.max(Math.abs(domain[0]), Math.abs(domain[1])), unit);
  const ticks = niceTicks(domain[0] / factor, domain[1] / factor, 6);
  const step = niceStep(domain[1] / factor - domain[0] / factor, 6);
  return { scale: linearScale(domain, range), ticks, step, factor, unit: shown };
}

function drawAxes(svg: SVGElement, xAxis: IAxis, yAxis: IAxis, xLabel: string, yLabel: string): void {
  const bottom = HEIGHT - MARGIN.bottom;
  const right = WIDTH - MARGIN.right;
  svg.appendChild(el('rect', { class: 'jm-plot-frame', x: MARGIN.left, y: MARGIN.top,
    width: right - MARGIN.left, height: bottom - MARGIN.top }));
  for (const tick of xAxis.ticks) {
    const x = xAxis.scale(tick * xAxis.factor);
    svg.appendChild(el('line', { class: 'jm-plot-grid', x1: x, x2: x, y1: MARGIN.top, y2: bottom }));
    svg.appendChild(el('text', { class: 'jm-plot-tick jm-plot-xtick', x, y: bottom + 16,
      'text-anchor': 'middle' }, formatTick(tick, xAxis.step)));
  }
  for (const tick of yAxis.ticks) {
    const y = yAxis.scale(tick * yAxis.factor);
    svg.appendChild(el('line', { class: 'jm-plot-grid', x1: MARGIN.left, x2: right, y1: y, y2: y }));
    svg.appendChild(el('text', { class: 'jm-plot-tick jm-plot-ytick', x: MARGIN.left - 6, y: y + 4,
      'text-anchor': 'end' }, formatTick(tick, yAxis.step)));
  }
  svg.appendChild(el('text', { class: 'jm-plot-label jm-plot-xlabel', x: (MARGIN.left + right) / 2,
    y: HEIGHT - 10, 'text-anchor': 'middle' }, xLabel));
  const yMid = (MARGIN.top + bottom) / 2;
  svg.appendChild(el('text', { class: 'jm-plot-label jm-plot-ylabel', x: 16, y: yMid,
    'text-anchor': 'middle', transform: `rotate(-90 16 ${yMid})` }, yLabel));
}

function drawSeries(svg: SVGElement, data: IPlotData, xs: DataColumn, xAxis: IAxis, yAxis: IAxis): number {
  let drawn = 0;
  data.y.forEach((name, i) => {
    const ys = data.columns[name] ?? [];
    const group = el('g', { class: `jm-plot-series jm-plot-series-${i % 6}`, 'data-name': name });
    group.appendChild(el('path', { class: 'jm-plot-line', d: pathOf(xs, ys, xAxis.scale, yAxis.scale) }));
    const markers = ys.length <= MAX_MARKERS;
    for (let k = 0; k < Math.min(xs.length, ys.length); k++) {
      const x = xs[k];
      const y = ys[k];
      if (x === null || y === null || !Number.isFinite(x) || !Number.isFinite(y)) {
        continue;
      }
      drawn++;
      if (markers) {
        group.appendChild(el('circle', { class: 'jm-plot-point', r: 2.5,
          cx: xAxis.scale(x).toFixed(1), cy: yAxis.scale(y).toFixed(1) }));
      }
    }
    svg.appendChild(group);
    svg.appendChild(el('text', { class: `jm-plot-legend jm-plot-series-${i % 6}`,
      x: MARGIN.left + 8 + i * 90, y: MARGIN.top - 10 }, `● ${name}`));
  });
  return drawn;
}

function drawFit(svg: SVGElement, data: IPlotData, xAxis: IAxis, yAxis: IAxis): boolean {
  const fit = data.fit;
  if (!fit?.x) {
    return false;
  }
  let drew = false;
  data.y.forEach((name, i) => {
    if (!fit[name]) {
      return;
    }
    svg.appendChild(el('path', { class: `jm-plot-fit jm-plot-series-${i % 6}`, 'data-name': name,
      d: pathOf(fit.x, fit[name], xAxis.scale, yAxis.scale) }));
    drew = true;
  });
  if (drew) {
    const x = MARGIN.left + 8 + data.y.length * 90;
    svg.appendChild(el('line', { class: 'jm-plot-fit', x1: x, x2: x + 22, y1: MARGIN.top - 14,
      y2: MARGIN.top - 14 }));
    svg.appendChild(el('text', { class: 'jm-plot-legend-fit', x: x + 28, y: MARGIN.top - 10 }, 'fit'));
  }
  return drew;
}

/** The plot of the data as it is now: an `<svg class="jm-plot">` with `data-points`. */
export function renderPlot(data: IPlotData): SVGElement {
  const svg = el('svg', { class: 'jm-plot', viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    preserveAspectRatio: 'xMidYMid meet', role: 'img' });
  const xName = data.x;
  const xs: DataColumn = xName ? data.columns[xName] ?? [] : Array.from({ length: data.count }, (_, i) => i);
  const fit = data.fit;
  const yValues = data.y.map(name => data.columns[name] ?? []);
  if (fit) {
    yValues.push(...data.y.filter(name => fit[name]).map(name => fit[name]));
  }
  const xAxis = makeAxis([xs, fit?.x ?? [], data.xRange ?? []], xName ? data.units[xName] ?? '' : '',
    [MARGIN.left, WIDTH - MARGIN.right]);
  const yUnits = new Set(data.y.map(name => data.units[name] ?? ''));
  const yUnit = yUnits.size === 1 ? [...yUnits][0] : '';
  const yAxis = makeAxis(yValues, yUnit, [HEIGHT - MARGIN.bottom, MARGIN.top]);
  drawAxes(svg, xAxis, yAxis, axisLabel([xName ?? 'point'], xAxis.unit), axisLabel(data.y, yAxis.unit));
  const drawn = drawSeries(svg, data, xs, xAxis, yAxis);
  const fitted = drawFit(svg, data, xAxis, yAxis);
  svg.setAttribute('data-points', String(data.count));
  svg.setAttribute('data-drawn', String(drawn));
  svg.setAttribute('data-fit', String(fitted));
  svg.setAttribute('aria-label', `${data.y.join(', ')} against ${xName ?? 'point'}: ${data.count} points`);
  return svg;
}
