// Inline SVG charts, drawn at the container's pixel width (re-drawn when it
// changes) so text stays readable on any screen. Each chart is role="img"
// with an aria-label that states its data.

import { h, svg, fmt } from './dom.js';

/**
 * responsive(draw, {testid}) → a <div> that holds draw(width)'s SVG and
 * re-draws it when the width changes.
 */
export function responsive(draw, { testid, minWidth = 240 } = {}) {
  const box = h('div', { class: 'chart-box', testid });
  let lastW = 0;
  const render = (w) => {
    const width = Math.max(minWidth, Math.floor(w || 600));
    if (width === lastW) return;
    lastW = width;
    box.replaceChildren(draw(width));
  };
  render(600);
  if ('ResizeObserver' in window) {
    const ro = new ResizeObserver((entries) => {
      for (const e of entries) if (e.contentRect.width > 0) render(e.contentRect.width);
    });
    ro.observe(box);
  }
  return box;
}

function frame(width, height, label) {
  return svg('svg', {
    class: 'chart', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': label,
  }, svg('title', null, label));
}

function text(x, y, content, props = {}) {
  return svg('text', { x, y, 'dominant-baseline': 'middle', ...props }, content);
}

/**
 * Horizontal bars: items [{label, value, cls, title}]. Labels left, values
 * right of each bar.
 */
export function barChart(items, { label = 'Bar chart', valueFmt = fmt.number, testid } = {}) {
  return responsive((width) => {
    const rowH = 28;
    const labelW = Math.min(170, Math.round(width * 0.38));
    const valueW = 56;
    const barMax = Math.max(20, width - labelW - valueW - 12);
    const height = items.length * rowH + 4;
    const max = Math.max(1, ...items.map((i) => i.value));
    const aria = `${label}: ${items.map((i) => `${i.label} ${valueFmt(i.value)}`).join(', ')}`;
    const root = frame(width, height, aria);
    items.forEach((it, i) => {
      const y = i * rowH + 3;
      const cy = y + (rowH - 6) / 2;
      const w = it.value > 0 ? Math.max(3, (it.value / max) * barMax) : 0;
      root.append(
        text(labelW - 8, cy, it.label, { 'text-anchor': 'end' }),
        svg('rect', { class: 'track', x: labelW, y, width: barMax, height: rowH - 6, rx: 4 }),
        svg('rect', { class: ['bar', it.cls], x: labelW, y, width: w, height: rowH - 6, rx: 4 },
          svg('title', null, it.title || `${it.label}: ${valueFmt(it.value)}`)),
        text(labelW + w + 6, cy, valueFmt(it.value), { class: 'muted', 'font-weight': 600 }),
      );
    });
    return root;
  }, { testid });
}

/**
 * A funnel: steps [{label, count, note}] as centred bars narrowing with the
 * count; each gap between bars carries the step's note (conversion, median).
 */
export function funnelChart(steps, { label = 'Funnel', testid } = {}) {
  return responsive((width) => {
    const barH = 38;
    const gap = 26;
    const height = steps.length * barH + (steps.length - 1) * gap + 4;
    const max = Math.max(1, ...steps.map((s) => s.count));
    const aria = `${label}: ${steps.map((s) => `${s.label} ${s.count}`).join(', ')}`;
    const root = frame(width, height, aria);
    const labelOf = (s) => `${s.label} · ${fmt.number(s.count)}`;
    const textW = (t) => t.length * 7.4 + 16;
    // Labels go inside the bars when every bar is wide enough; otherwise in
    // a column on the left, the bars centred in the rest.
    const inside = steps.every((s) => Math.max(6, (s.count / max) * (width - 8)) >= textW(labelOf(s)));
    const left = inside ? 0 : Math.min(Math.max(...steps.map((s) => textW(labelOf(s)))), width * 0.45);
    const usable = width - left - 8;
    const mid = left + (width - left) / 2;
    let prev = null;
    steps.forEach((s, i) => {
      const y = i * (barH + gap) + 2;
      const w = Math.max(6, (s.count / max) * usable);
      const x = mid - w / 2;
      if (prev) {
        // A trapezoid joining the previous bar's bottom to this bar's top.
        root.append(svg('polygon', {
          class: 'funnel-step', opacity: 0.18,
          points: `${prev.x},${prev.y + barH} ${prev.x + prev.w},${prev.y + barH} ${x + w},${y} ${x},${y}`,
        }));
        if (s.note) root.append(text(mid, y - gap / 2, s.note, { 'text-anchor': 'middle', class: 'muted' }));
      }
      root.append(svg('rect', { class: `funnel-step n${i}`, x, y, width: w, height: barH, rx: 6 },
        svg('title', null, `${s.label}: ${fmt.number(s.count)}`)));
      root.append(inside
        ? text(mid, y + barH / 2, labelOf(s), { 'text-anchor': 'middle', class: 'on-bar' })
        : text(0, y + barH / 2, labelOf(s), { 'font-weight': 700 }));
      prev = { x, y, w };
    });
    return root;
  }, { testid });
}

/** A 0–1 gauge with a target marker. */
export function gauge(value, target, { label = 'Rate', testid } = {}) {
  return responsive((width) => {
    const height = 48;
    const pad = 4;
    const w = width - pad * 2;
    const v = Math.max(0, Math.min(1, value || 0));
    const cls = v >= target ? 'ok' : v >= target * 0.8 ? 'warn' : 'bad';
    const root = frame(width, height, `${label}: ${fmt.percent(v)}, target ${fmt.percent(target)}`);
    const tx = pad + target * w;
    root.append(
      svg('rect', { class: 'track', x: pad, y: 10, width: w, height: 16, rx: 8 }),
      svg('rect', { class: `gauge-fill ${cls}`, x: pad, y: 10, width: Math.max(v > 0 ? 4 : 0, v * w), height: 16, rx: 8 }),
      svg('line', { class: 'ref target', x1: tx, x2: tx, y1: 4, y2: 32 }),
      text(Math.min(tx, width - 60), 41, `target ${fmt.percent(target)}`, { class: 'muted', 'text-anchor': tx > width - 60 ? 'start' : 'middle' }),
      text(pad, 41, '0%', { class: 'muted' }),
    );
    return root;
  }, { testid });
}

/**
 * Vertical bars with a y axis: points [{value, title, cls}], optional
 * reference lines [{value, label, cls}] and x labels at the ends. integer:
 * the values are counts, so the axis has whole-number ticks only.
 */
export function columnChart(points, { label = 'Chart', yFmt = fmt.number, refLines = [], yMax, xStart, xEnd, height = 190, integer = false, testid } = {}) {
  return responsive((width) => {
    if (!points.length) {
      const root = frame(width, 60, `${label}: no data yet`);
      root.append(svg('rect', { class: 'track', x: 0, y: 0, width, height: 60, rx: 8 }),
        text(width / 2, 30, 'no data yet', { 'text-anchor': 'middle', class: 'muted' }));
      return root;
    }
    const m = { l: 58, r: 60, t: 10, b: 24 };
    const pw = width - m.l - m.r;
    const ph = height - m.t - m.b;
    const max = Math.max(...points.map((p) => p.value), ...refLines.map((r) => r.value));
    const step = yMax ? yMax / 4 : niceStep(Math.max(max, 1e-9) / 4, integer);
    const ticks = yMax ? 4 : Math.max(1, Math.ceil((max * 1.05) / step));
    const top = step * ticks;
    const y = (v) => m.t + ph - (Math.max(0, v) / top) * ph;
    const aria = `${label}: ${points.length} values${refLines.length ? `; ${refLines.map((r) => `${r.label} ${yFmt(r.value)}`).join(', ')}` : ''}`;
    const root = frame(width, height, aria);
    const grid = svg('g', { class: 'grid axis' });
    for (let i = 0; i <= ticks; i++) {
      const v = step * i;
      grid.append(svg('line', { x1: m.l, x2: m.l + pw, y1: y(v), y2: y(v) }), text(m.l - 6, y(v), yFmt(v), { 'text-anchor': 'end' }));
    }
    root.append(grid);
    const band = points.length ? pw / points.length : pw;
    const bw = Math.max(1, Math.min(40, band * 0.72));
    points.forEach((p, i) => {
      const x = m.l + i * band + (band - bw) / 2;
      const yy = y(p.value);
      root.append(svg('rect', { class: ['bar', p.cls], x, y: yy, width: bw, height: Math.max(p.value > 0 ? 1 : 0, m.t + ph - yy), rx: Math.min(3, bw / 3) },
        svg('title', null, p.title || yFmt(p.value))));
    });
    // Reference lines; their labels keep 13 px apart when the lines are close.
    let lastLabelY = -Infinity;
    for (const r of [...refLines].sort((a, b) => b.value - a.value)) {
      const yy = y(r.value);
      const ly = Math.max(yy, lastLabelY + 13);
      lastLabelY = ly;
      root.append(svg('line', { class: ['ref', r.cls], x1: m.l, x2: m.l + pw, y1: yy, y2: yy }),
        text(m.l + pw + 4, ly, `${r.label} ${yFmt(r.value)}`, { class: 'muted' }));
    }
    const axis = svg('g', { class: 'axis' });
    if (xStart) axis.append(text(m.l, height - 8, xStart));
    if (xEnd) axis.append(text(m.l + pw, height - 8, xEnd, { 'text-anchor': 'end' }));
    root.append(axis);
    return root;
  }, { testid });
}

/** Buckets values into bins for a histogram: [{from, to, count}]. */
export function bins(values, n = 12) {
  if (!values.length) return [];
  const max = Math.max(...values);
  const min = Math.min(...values);
  const span = Math.max(1, max - min);
  const step = span / n;
  const out = Array.from({ length: n }, (_, i) => ({ from: min + i * step, to: min + (i + 1) * step, count: 0 }));
  for (const v of values) out[Math.min(n - 1, Math.floor((v - min) / step))].count++;
  return out;
}

/**
 * The smallest 1, 2, 2.5 or 5 × 10^k at least v: a readable tick step. For
 * counts (integer) it is a whole number: at least 1, and no 2.5 × 10^k
 * below 25.
 */
export function niceStep(v, integer = false) {
  if (integer && v <= 1) return 1;
  const exp = 10 ** Math.floor(Math.log10(v));
  const factors = integer && exp < 10 ? [1, 2, 5, 10] : [1, 2, 2.5, 5, 10];
  for (const f of factors) if (f * exp >= v) return f * exp;
  return 10 * exp;
}
