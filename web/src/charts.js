// The page's charts, drawn by uPlot (loaded as a global from /assets/uPlot.iife.min.js): a bar
// chart of clicks per window with one series per provenance, and small line charts of values the
// page samples every second. Each chart follows its container's width.

/* global uPlot */

export const SOURCES = [
  { key: 'batch', label: 'batch (exact recount)', color: '#2563eb' },
  { key: 'speed-final', label: 'speed, final', color: '#16a34a' },
  { key: 'open', label: 'open window (partial)', color: '#d97706' },
  { key: 'raw-log', label: 'raw-log recount', color: '#9333ea' },
];

function widthOf(el) {
  return Math.max(240, Math.floor(el.clientWidth || el.getBoundingClientRect().width || 600));
}

function follow(el, plot, height) {
  new ResizeObserver(() => plot.setSize({ width: widthOf(el), height })).observe(el);
}

const timeAxis = { stroke: '#64748b', grid: { stroke: '#e2e8f0' }, ticks: { stroke: '#cbd5e1' } };
const valueAxis = (label) => ({
  label, stroke: '#64748b', grid: { stroke: '#e2e8f0' }, ticks: { stroke: '#cbd5e1' }, size: 60,
  values: (u, splits) => splits.map((v) => (v == null ? '' : compact(v))),
});

export function compact(v) {
  const a = Math.abs(v);
  if (a >= 1e9) return `${+(v / 1e9).toFixed(1)}G`;
  if (a >= 1e6) return `${+(v / 1e6).toFixed(1)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toFixed(1)}k`;
  return String(+v.toFixed(2));
}

/** Clicks per window; setData(points, fromSeconds, toSeconds) with points of /v1/ads/{ad}/series. */
export function seriesChart(el) {
  const height = 260;
  const bars = uPlot.paths.bars({ size: [0.86, 80], align: 1 });
  let range = [0, 1];
  const opts = {
    width: widthOf(el), height,
    cursor: { points: { show: false } },
    scales: { x: { time: true, range: () => range }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
    axes: [timeAxis, valueAxis('clicks')],
    series: [{ label: 'window start' }, ...SOURCES.map((s) => ({
      label: s.label, stroke: s.color, fill: `${s.color}cc`, width: 1, paths: bars, points: { show: false },
      value: (u, v) => (v == null ? '–' : String(v)),
    }))],
    legend: { live: true },
  };
  const plot = new uPlot(opts, [[], [], [], [], []], el);
  follow(el, plot, height);
  return {
    setData(points, fromSeconds, toSeconds) {
      const xs = points.map((p) => p.start);
      const ys = SOURCES.map((s) => points.map((p) => (p.source === s.key ? p.click_count : null)));
      range = [fromSeconds, toSeconds];
      plot.setData([xs, ...ys]);
    },
  };
}

/** A line of one sampled value over time (seconds); push(t, v) appends, keeping `keep` samples. */
export function lineChart(el, { label, color, keep = 300 }) {
  const height = 160;
  const xs = [];
  const ys = [];
  const opts = {
    width: widthOf(el), height,
    cursor: { points: { show: false } },
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.15)] } },
    axes: [timeAxis, valueAxis(label)],
    series: [{}, { label, stroke: color, fill: `${color}22`, width: 2, points: { show: false }, spanGaps: false }],
    legend: { show: false },
  };
  const plot = new uPlot(opts, [xs, ys], el);
  follow(el, plot, height);
  return {
    push(t, v) {
      if (xs.length && t <= xs[xs.length - 1]) return;
      xs.push(t);
      ys.push(v);
      while (xs.length > keep) { xs.shift(); ys.shift(); }
      plot.setData([xs, ys]);
    },
    get length() { return xs.length; },
  };
}
