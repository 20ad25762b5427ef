// graphvault dashboard. Reads the monitoring API next to the page and draws it
// with plain DOM and inline SVG; no library, nothing loaded from elsewhere.
//
// The page lives at <prefix>/dashboard and the API at <prefix>/metrics/summary and
// so on, so every request is resolved against the folder of location.pathname.
// Errors are shown in the page, never thrown past the loader or logged.
(() => {
  'use strict';

  const body = document.body;
  const refreshSeconds = Math.max(0, Number(body.dataset.refresh) || 0);
  const windowParam = body.dataset.window || '6h';
  const apiBase = new URL(location.pathname.replace(/[^/]*$/, ''), location.origin);
  const historyLimit = 10000; // the most metrics/history answers at once
  const historyPages = 5;
  const maxEvents = 25;

  const state = { loads: 0, timer: 0, paused: false, busy: false };

  // ---- DOM helpers ---------------------------------------------------------

  const SVG_NS = 'http://www.w3.org/2000/svg';

  function append(el, kids) {
    for (const k of kids) {
      if (k === null || k === undefined || k === false) continue;
      if (Array.isArray(k)) append(el, k);
      else el.append(k instanceof Node ? k : String(k));
    }
    return el;
  }

  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === false || v === null || v === undefined) continue;
      el.setAttribute(k, v === true ? '' : String(v));
    }
    return append(el, kids);
  }

  function svg(tag, attrs, ...kids) {
    const el = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined) continue;
      el.setAttribute(k, String(v));
    }
    return append(el, kids);
  }

  function section(id) {
    return document.querySelector(`#${id} .body`);
  }

  // ---- formatting ----------------------------------------------------------

  function fmtBytes(n) {
    if (!Number.isFinite(n)) return '–';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
    let i = 0;
    let v = Math.abs(n);
    while (v >= 1024 && i < units.length - 1) {
      v /= 1024;
      i++;
    }
    const digits = i === 0 || v >= 100 ? 0 : v >= 10 ? 1 : 2;
    return `${n < 0 ? '-' : ''}${v.toFixed(digits)} ${units[i]}`;
  }

  function fmtSeconds(s) {
    if (!Number.isFinite(s)) return '–';
    if (s === 0) return '0 s';
    if (s < 1) return `${(s * 1000).toFixed(s < 0.01 ? 2 : 0)} ms`;
    if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
    const hr = Math.floor(m / 60);
    if (hr < 48) return `${hr} h ${m % 60} min`;
    return `${Math.floor(hr / 24)} d ${hr % 24} h`;
  }

  function fmtAge(s) {
    if (!Number.isFinite(s)) return '–';
    if (s < 1) return 'just now';
    if (s < 60) return `${Math.round(s)} s ago`;
    if (s < 3600) return `${Math.round(s / 60)} min ago`;
    if (s < 172800) return `${(s / 3600).toFixed(1)} h ago`;
    return `${Math.round(s / 86400)} d ago`;
  }

  function fmtCount(n) {
    return Number.isFinite(n) ? Math.round(n).toLocaleString('en') : '–';
  }

  const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  const shortTimeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
  const dayFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
  const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

  function parseTime(s) {
    const t = s ? Date.parse(s) : NaN;
    return Number.isFinite(t) && t > 0 ? t : NaN;
  }

  function timeEl(iso, text) {
    const t = parseTime(iso);
    if (!Number.isFinite(t)) return h('span', { class: 'muted' }, '–');
    const d = new Date(t);
    return h('time', { datetime: d.toISOString(), title: fullFmt.format(d) }, text || fmtAge((Date.now() - t) / 1000));
  }

  function fmtWindow(go) {
    // A Go duration such as "6h0m0s" or "90m0s", shown as "6 h" or "1 h 30 min".
    const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:([\d.]+)s)?$/.exec(go);
    if (!m) return go;
    const secs = (Number(m[1]) || 0) * 3600 + (Number(m[2]) || 0) * 60 + (Number(m[3]) || 0);
    if (secs % 3600 === 0) return `${secs / 3600} h`;
    return fmtSeconds(secs);
  }

  const statusRank = { fail: 0, warn: 1, unknown: 2, info: 3, pass: 4 };

  function badge(status, label) {
    const s = ['pass', 'warn', 'fail', 'info'].includes(status) ? status : 'unknown';
    return h('span', { class: `badge badge-${s}` }, label || status || 'unknown');
  }

  function healthStatus(v) {
    if (v >= 1) return 'pass';
    if (v >= 0.5) return 'warn';
    return 'fail';
  }

  function labelsOf(s) {
    const out = {};
    for (const part of (s || '').split(',')) {
      const i = part.indexOf('=');
      if (i > 0) out[part.slice(0, i)] = part.slice(i + 1);
    }
    return out;
  }

  // ---- fetching ------------------------------------------------------------

  class EndpointError extends Error {
    constructor(path, message) {
      super(message);
      this.name = 'EndpointError';
      this.path = path;
    }
  }

  async function getJSON(path, acceptStatus) {
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), 15000);
    const shown = path.replace(/\?.*$/, '');
    let res;
    let text;
    try {
      res = await fetch(new URL(path, apiBase), {
        headers: { Accept: 'application/json, application/health+json, application/problem+json' },
        cache: 'no-store',
        credentials: 'same-origin',
        signal: ctrl.signal,
      });
      text = await res.text();
    } catch (e) {
      throw new EndpointError(shown, e && e.name === 'AbortError' ? 'no answer within 15 s' : `cannot reach it (${e && e.message ? e.message : e})`);
    } finally {
      clearTimeout(timer);
    }
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (e) {
      data = null;
    }
    if ((res.ok || (acceptStatus || []).includes(res.status)) && data && typeof data === 'object') return data;
    let why = `${res.status} ${res.statusText}`.trim();
    if (res.ok) why += ': the answer is not JSON';
    const detail = data && typeof data === 'object' ? data.detail || data.title : text && text.slice(0, 200);
    if (!res.ok && detail) why += `: ${detail}`;
    throw new EndpointError(shown, why);
  }

  // history reads every sample of one metric in the window, following on from the
  // newest sample read while an answer is full.
  async function getHistory(name) {
    const bySeries = new Map();
    let since = windowParam;
    let truncated = false;
    for (let page = 1; ; page++) {
      const q = `metrics/history?name=${encodeURIComponent(name)}&since=${encodeURIComponent(since)}&limit=${historyLimit}`;
      const data = await getJSON(q);
      let n = 0;
      let last = NaN;
      for (const s of data.series || []) {
        let e = bySeries.get(s.labels);
        if (!e) {
          e = { labels: s.labels || '', points: [], seen: new Set() };
          bySeries.set(s.labels, e);
        }
        for (const p of s.points || []) {
          n++;
          const t = parseTime(p.at);
          if (!Number.isFinite(t) || !Number.isFinite(p.value)) continue;
          if (!(t <= last)) last = t;
          if (e.seen.has(t)) continue;
          e.seen.add(t);
          e.points.push({ t, v: p.value });
        }
      }
      if (n < historyLimit || !Number.isFinite(last)) break;
      if (page >= historyPages) {
        truncated = true;
        break;
      }
      since = new Date(last).toISOString();
    }
    const series = [...bySeries.values()].map((e) => ({
      labels: e.labels,
      points: e.points.sort((a, b) => a.t - b.t),
    }));
    series.sort((a, b) => (a.labels < b.labels ? -1 : a.labels > b.labels ? 1 : 0));
    return { name, series, truncated };
  }

  const sources = {
    summary: () => getJSON('metrics/summary'),
    health: () => getJSON('health', [503]), // 503 carries the failing report
    backups: () => getJSON('stats/backups'),
    recovery: () => getJSON('stats/recovery'),
    replication: () => getJSON('stats/replication'),
    sizes: () => getHistory('graphvault.snapshot.bytes'),
    durations: () => getHistory('graphvault.snapshot.duration'),
    lag: () => getHistory('graphvault.replication.lag'),
    healthHistory: () => getHistory('graphvault.health.status'),
  };

  async function fetchAll() {
    const keys = Object.keys(sources);
    const settled = await Promise.allSettled(keys.map((k) => sources[k]()));
    const data = {};
    const errors = {};
    keys.forEach((k, i) => {
      const r = settled[i];
      if (r.status === 'fulfilled') data[k] = r.value;
      else errors[k] = r.reason instanceof EndpointError ? r.reason : new EndpointError(k, String(r.reason));
    });
    return { data, errors };
  }

  // ---- charts --------------------------------------------------------------

  function niceStep(range, count) {
    const raw = range / Math.max(1, count);
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const norm = raw / mag;
    const step = norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 2.5 ? 2.5 : norm <= 5 ? 5 : 10;
    return step * mag;
  }

  // yTicks returns round axis values from 0 past max: whole numbers for counts,
  // round numbers of KiB, MiB, ... for bytes.
  function yTicks(max, count, fmt) {
    if (!(max > 0)) return [0, 1];
    let step = niceStep(max, count);
    if (fmt === fmtCount) step = Math.max(1, step);
    if (fmt === fmtBytes) {
      const unit = Math.pow(1024, Math.max(0, Math.floor(Math.log(max) / Math.log(1024))));
      step = niceStep(max / unit, count) * unit;
    }
    const ticks = [];
    for (let v = 0; v < max + step * 0.999; v += step) ticks.push(v);
    if (ticks.length < 2) ticks.push(step);
    return ticks;
  }

  function timeLabel(t, span) {
    const d = new Date(t);
    return span > 36 * 3600e3 ? dayFmt.format(d) : shortTimeFmt.format(d);
  }

  let chartSeq = 0;

  function chartFrame(id, title, description, w, hgt) {
    const n = ++chartSeq;
    const titleID = `${id}-title-${n}`;
    const descID = `${id}-desc-${n}`;
    const root = svg('svg', {
      class: 'chart',
      viewBox: `0 0 ${w} ${hgt}`,
      role: 'img',
      'aria-labelledby': `${titleID} ${descID}`,
      preserveAspectRatio: 'xMidYMid meet',
    });
    root.append(svg('title', { id: titleID }, title), svg('desc', { id: descID }, description));
    return root;
  }

  function thin(points, max) {
    if (points.length <= max) return points;
    const step = Math.ceil(points.length / max);
    const out = points.filter((_, i) => i % step === 0);
    if (out[out.length - 1] !== points[points.length - 1]) out.push(points[points.length - 1]);
    return out;
  }

  // lineChart draws series [{name, points: [{t, v}]}] over time.
  function lineChart(id, title, series, fmt, emptyText) {
    const fig = h('figure', { class: 'chart', id });
    fig.append(h('figcaption', {}, title));
    series = series.filter((s) => s.points.length > 0);
    if (series.length === 0) {
      fig.append(h('p', { class: 'empty' }, emptyText));
      return fig;
    }
    const W = 560;
    const H = 220;
    const m = { l: 70, r: 18, t: 12, b: 30 };
    let t0 = Infinity;
    let t1 = -Infinity;
    let vmax = 0;
    for (const s of series) {
      for (const p of s.points) {
        t0 = Math.min(t0, p.t);
        t1 = Math.max(t1, p.t);
        vmax = Math.max(vmax, p.v);
      }
    }
    if (t1 - t0 < 10 * 60e3) {
      const mid = (t0 + t1) / 2;
      t0 = mid - 5 * 60e3;
      t1 = mid + 5 * 60e3;
    }
    const ticks = yTicks(vmax, 4, fmt);
    const ymax = ticks[ticks.length - 1];
    const X = (t) => m.l + ((t - t0) / (t1 - t0)) * (W - m.l - m.r);
    const Y = (v) => H - m.b - (v / ymax) * (H - m.t - m.b);

    const desc = series.map((s) => {
      const last = s.points[s.points.length - 1];
      return `${s.name}: ${s.points.length} samples, latest ${fmt(last.v)} at ${timeFmt.format(new Date(last.t))}`;
    }).join('; ');
    const root = chartFrame(id, title, `${desc}.`, W, H);

    const grid = svg('g', { 'aria-hidden': 'true' });
    for (const v of ticks) {
      const y = Y(v).toFixed(1);
      grid.append(svg('line', { class: 'gridline', x1: m.l, x2: W - m.r, y1: y, y2: y }));
      grid.append(svg('text', { x: m.l - 8, y: Number(y) + 4, 'text-anchor': 'end' }, fmt(v)));
    }
    const xTickCount = 4;
    for (let i = 0; i <= xTickCount; i++) {
      const t = t0 + ((t1 - t0) * i) / xTickCount;
      const anchor = i === 0 ? 'start' : i === xTickCount ? 'end' : 'middle';
      grid.append(svg('text', { x: X(t).toFixed(1), y: H - 10, 'text-anchor': anchor }, timeLabel(t, t1 - t0)));
    }
    grid.append(svg('line', { class: 'axis', x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b }));
    root.append(grid);

    series.forEach((s, i) => {
      const cls = `s${i % 8}`;
      const pts = thin(s.points, 720);
      const d = pts.map((p, j) => `${j ? 'L' : 'M'}${X(p.t).toFixed(1)} ${Y(p.v).toFixed(1)}`).join(' ');
      const g = svg('g', { class: 'series', 'data-series': s.name });
      g.append(svg('path', { class: `line ${cls}`, d }));
      if (pts.length <= 120) {
        for (const p of pts) {
          g.append(svg('circle', { class: `pt ${cls}`, cx: X(p.t).toFixed(1), cy: Y(p.v).toFixed(1), r: 3.5 },
            svg('title', {}, `${s.name} · ${fullFmt.format(new Date(p.t))} · ${fmt(p.v)}`)));
        }
      }
      root.append(g);
    });
    fig.append(root, legend(series.map((s, i) => ({ name: s.name, cls: `s${i % 8}` }))));
    return fig;
  }

  function legend(items) {
    return h('ul', { class: 'legend' },
      items.map((it) => h('li', {}, h('span', { class: `swatch ${it.cls}`, 'aria-hidden': 'true' }), it.name)));
  }

  // barChart draws horizontal bars: rows [{label, bars: [{name, v, cls}]}].
  function barChart(id, title, rows, fmt, keys, emptyText) {
    const fig = h('figure', { class: 'chart', id });
    fig.append(h('figcaption', {}, title));
    if (rows.length === 0) {
      fig.append(h('p', { class: 'empty' }, emptyText));
      return fig;
    }
    const W = 560;
    const per = rows[0].bars.length;
    const barH = 14;
    const rowH = per * barH + 12;
    const m = { l: 150, r: 70, t: 6, b: 26 };
    const H = m.t + rows.length * rowH + m.b;
    let vmax = 0;
    for (const r of rows) for (const b of r.bars) vmax = Math.max(vmax, b.v || 0);
    const ticks = yTicks(vmax, 4, fmt);
    const xmax = ticks[ticks.length - 1];
    const X = (v) => m.l + (v / xmax) * (W - m.l - m.r);

    const desc = rows.map((r) => `${r.label}: ${r.bars.map((b) => `${b.name} ${b.v === null ? 'none' : fmt(b.v)}`).join(', ')}`).join('; ');
    const root = chartFrame(id, title, `${desc}.`, W, H);
    const grid = svg('g', { 'aria-hidden': 'true' });
    for (const v of ticks) {
      const x = X(v).toFixed(1);
      grid.append(svg('line', { class: 'gridline', x1: x, x2: x, y1: m.t, y2: H - m.b }));
      grid.append(svg('text', { x, y: H - 8, 'text-anchor': 'middle' }, fmt(v)));
    }
    grid.append(svg('line', { class: 'axis', x1: m.l, x2: m.l, y1: m.t, y2: H - m.b }));
    root.append(grid);
    rows.forEach((r, i) => {
      const y0 = m.t + i * rowH + 6;
      const label = r.label.length > 22 ? `${r.label.slice(0, 21)}…` : r.label;
      const g = svg('g', { class: 'row', 'data-row': r.label });
      g.append(svg('text', { x: m.l - 8, y: y0 + (per * barH) / 2 + 4, 'text-anchor': 'end', class: 'value' }, label,
        svg('title', {}, r.label)));
      r.bars.forEach((b, j) => {
        const y = y0 + j * barH;
        if (b.v === null || b.v === undefined) {
          g.append(svg('text', { x: m.l + 6, y: y + barH - 3 }, b.none || 'none'));
          return;
        }
        const w = Math.max(b.v > 0 ? 2 : 0, X(b.v) - m.l);
        g.append(svg('rect', { class: `bar ${b.cls}`, x: m.l, y, width: w.toFixed(1), height: barH - 2, rx: 2 },
          svg('title', {}, `${r.label} · ${b.name}: ${fmt(b.v)}`)));
        g.append(svg('text', { x: (m.l + w + 6).toFixed(1), y: y + barH - 3 }, fmt(b.v)));
      });
      root.append(g);
    });
    fig.append(root);
    if (keys && keys.length > 1) fig.append(legend(keys));
    return fig;
  }

  // ---- sections ------------------------------------------------------------

  function errorNotes(errors, keys) {
    return keys.filter((k) => errors[k]).map((k) =>
      h('p', { class: 'section-error' }, 'Could not load ', h('code', {}, errors[k].path), `: ${errors[k].message}`));
  }

  function table(headers, rows, caption) {
    return h('div', { class: 'table-wrap' },
      h('table', {},
        caption ? h('caption', { class: 'visually-hidden' }, caption) : null,
        h('thead', {}, h('tr', {}, headers.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : null }, c.label || c)))),
        h('tbody', {}, rows)));
  }

  function renderTotals(d) {
    const s = d.summary;
    if (!s) return [];
    const t = s.totals || {};
    const tile = (label, value, bad) => h('div', { class: bad ? 'tile bad' : 'tile' }, h('dt', {}, label), h('dd', {}, value));
    return [h('dl', { class: 'tiles' },
      tile('Graphs', fmtCount(t.graphs)),
      tile('Snapshots', fmtCount(t.snapshots)),
      tile('Completed', fmtCount(t.completed)),
      tile('Failed', fmtCount(t.failed), t.failed > 0),
      tile('Bytes written', fmtBytes(t.bytes_written)),
      tile('Checkpoints', fmtCount(t.checkpoints)),
      tile('Targets', fmtCount(t.targets)))];
  }

  function renderHealth(d) {
    const hr = d.health;
    if (!hr) return [];
    const checks = [];
    for (const [key, list] of Object.entries(hr.checks || {})) {
      for (const c of list || []) checks.push({ key, ...c });
    }
    if (checks.length === 0) return [h('p', { class: 'empty' }, 'No health check has run yet.')];
    checks.sort((a, b) => (statusRank[a.status] ?? 2) - (statusRank[b.status] ?? 2) || (a.key < b.key ? -1 : 1));
    const rows = checks.map((c) => h('tr', { class: c.status === 'pass' ? null : `row-${c.status}` },
      h('td', {}, badge(c.status)),
      h('td', {}, h('code', {}, c.key)),
      h('td', { class: 'output' }, c.output || (c.status === 'pass' ? 'OK' : '')),
      h('td', { class: 'num' }, timeEl(c.time)),
      h('td', { class: 'num' }, fmtSeconds(c.observedValue))));
    return [table(['Status', 'Component', 'Output', 'Checked', { label: 'Took', num: true }], rows, 'Health checks')];
  }

  function renderGraphs(d) {
    const byID = new Map();
    const get = (id) => {
      if (!byID.has(id)) byID.set(id, { id });
      return byID.get(id);
    };
    for (const g of (d.summary && d.summary.graphs) || []) Object.assign(get(g.graph_id), { summary: g });
    for (const g of (d.backups && d.backups.graphs) || []) Object.assign(get(g.graph_id), { stats: g });
    if (!d.summary && !d.backups) return [];
    if (byID.size === 0) return [h('p', { class: 'empty' }, 'No graph has a snapshot yet.')];
    const ids = [...byID.keys()].sort();
    const rows = ids.map((id) => {
      const g = byID.get(id);
      const last = (g.summary && g.summary.last_snapshot) || (g.stats && g.stats.newest_completed) || null;
      const counts = g.stats ? g.stats.counts : g.summary ? { completed: g.summary.completed, failed: g.summary.failed } : {};
      return h('tr', { class: counts.failed > 0 ? 'row-fail' : null, 'data-graph': id },
        h('th', { scope: 'row' }, h('code', {}, id)),
        h('td', {}, last ? timeEl(last.finished_at || last.started_at, fmtAge(last.age_seconds)) : h('span', { class: 'muted' }, 'none completed')),
        h('td', { class: 'num' }, last ? fmtBytes(last.bytes_stored) : '–'),
        h('td', { class: 'num' }, last ? `${fmtCount(last.nodes)} / ${fmtCount(last.edges)}` : '–'),
        h('td', { class: 'num' }, last ? fmtSeconds(last.duration_seconds) : '–'),
        h('td', { class: 'num' }, fmtCount(counts.completed)),
        h('td', { class: 'num' }, fmtCount(counts.failed)));
    });
    return [table(['Graph', 'Last snapshot', { label: 'Size', num: true }, { label: 'Nodes / edges', num: true },
      { label: 'Took', num: true }, { label: 'Done', num: true }, { label: 'Failed', num: true }], rows,
    'Last completed snapshot of every graph')];
  }

  function graphSeries(hist) {
    return ((hist && hist.series) || []).map((s) => ({ name: labelsOf(s.labels).graph || s.labels || 'all', points: s.points }));
  }

  function renderHistory(d, errors) {
    const out = [];
    const win = fmtWindow(windowParam);
    const emptyHist = `No samples in the last ${win} yet; the collector writes one set each interval.`;
    if (!errors.sizes) {
      out.push(lineChart('chart-size', 'Newest snapshot size (stored bytes)', graphSeries(d.sizes), fmtBytes, emptyHist));
    }
    if (!errors.durations) {
      out.push(lineChart('chart-duration', 'Newest snapshot duration', graphSeries(d.durations), fmtSeconds, emptyHist));
    }
    if (d.backups) {
      const rows = (d.backups.graphs || []).map((g) => ({
        label: g.graph_id,
        bars: [
          { name: 'completed', v: g.counts.completed, cls: 'fill-pass' },
          { name: 'failed', v: g.counts.failed, cls: 'fill-fail' },
        ],
      }));
      out.push(barChart('chart-counts', 'Snapshots per graph', rows, fmtCount,
        [{ name: 'completed', cls: 'fill-pass' }, { name: 'failed', cls: 'fill-fail' }], 'No snapshots yet.'));
      const drows = (d.backups.graphs || []).filter((g) => g.averaged_over > 0).map((g) => ({
        label: g.graph_id,
        bars: [{ name: 'average', v: g.average_duration_seconds, cls: 'fill-info' }],
      }));
      out.push(barChart('chart-avg-duration', 'Average snapshot duration (newest 100)', drows, fmtSeconds, null,
        'No completed snapshot yet.'));
    }
    const notes = ['sizes', 'durations'].filter((k) => d[k] && d[k].truncated).map((k) =>
      h('p', { class: 'muted' }, `The window holds more samples of ${d[k].name} than the page reads; the newest are left out.`));
    return [h('div', { class: 'charts' }, out), ...notes];
  }

  function renderReplication(d, errors) {
    const r = d.replication;
    if (!r) return [];
    const targets = r.targets || [];
    if (targets.length === 0) return [h('p', { class: 'empty' }, 'No replication targets are configured.')];
    const out = [];
    const rows = targets.map((t) => ({
      label: t.name || t.id,
      bars: [{ name: 'lag', none: 'never replicated', v: Number.isFinite(t.lag_seconds) ? t.lag_seconds : null, cls: t.health === 'fail' ? 'fill-fail' : t.health === 'warn' ? 'fill-warn' : 'fill-info' }],
    }));
    out.push(barChart('chart-lag', 'Time since the last successful replication', rows, fmtSeconds, null, ''));
    const trows = targets.map((t) => h('tr', { class: t.health === 'fail' || t.health === 'warn' ? `row-${t.health}` : null, 'data-target': t.name },
      h('th', { scope: 'row' }, t.name, h('div', { class: 'output' }, `${t.kind}${t.enabled ? '' : ', disabled'}`)),
      h('td', {}, badge(t.health)),
      h('td', { class: 'num' }, Number.isFinite(t.lag_seconds) ? fmtSeconds(t.lag_seconds) : 'never'),
      h('td', { class: 'num' }, `${fmtCount(t.recent_events)} / ${fmtCount(t.recent_failures)}`),
      h('td', { class: 'output' }, t.last_error || '')));
    out.push(table(['Target', 'Health', { label: 'Lag', num: true }, { label: 'Events / failed', num: true }, 'Last error'],
      trows, 'Replication targets'));
    if (!errors.lag) {
      const series = ((d.lag && d.lag.series) || []).map((s) => ({ name: labelsOf(s.labels).target || s.labels, points: s.points }));
      if (series.length > 0) out.push(lineChart('chart-lag-history', 'Replication lag over time', series, fmtSeconds, ''));
    }
    return out;
  }

  function renderCheckpoints(d) {
    const r = d.recovery;
    if (!r) return [];
    const c = r.checkpoints || {};
    const out = [];
    if (!c.count) {
      out.push(h('p', { class: 'empty' }, 'No checkpoints yet.'));
    } else {
      const cp = (x) => (x ? [h('code', {}, x.id), x.description ? ` — ${x.description}` : '', ' (', timeEl(x.created_at), ')'] : '–');
      out.push(h('dl', { class: 'facts' },
        h('dt', {}, 'Checkpoints'), h('dd', {}, `${fmtCount(c.count)}: ${fmtCount(c.validated)} valid, ${fmtCount(c.invalid)} invalid, ${fmtCount(c.unvalidated)} not validated`),
        h('dt', {}, 'Newest'), h('dd', {}, cp(c.newest)),
        h('dt', {}, 'Newest valid'), h('dd', {}, cp(c.newest_validated))));
    }
    const graphs = r.graphs || [];
    if (graphs.length > 0) {
      const rows = graphs.map((g) => {
        const v = g.newest_verified_snapshot;
        return h('tr', {},
          h('th', { scope: 'row' }, h('code', {}, g.graph_id)),
          h('td', {}, g.newest_completed ? timeEl(g.newest_completed.finished_at, fmtAge(g.newest_completed.age_seconds)) : '–'),
          h('td', {}, v ? [timeEl(v.verified_at), h('div', { class: 'output' }, `by ${v.source}${v.status === 'deleted' ? ', since deleted' : ''}`)] : h('span', { class: 'muted' }, 'never verified')));
      });
      out.push(table(['Graph', 'Newest snapshot', 'Newest verified'], rows, 'Newest verified snapshot of every graph'));
    }
    return out;
  }

  function collectEvents(d) {
    const ev = [];
    const add = (at, level, what, detail) => {
      const t = parseTime(at);
      if (Number.isFinite(t)) ev.push({ t, at, level, what, detail });
    };
    if (d.health) {
      for (const [key, list] of Object.entries(d.health.checks || {})) {
        for (const c of list || []) {
          if (c.status !== 'pass') add(c.time, c.status, `Health check ${key} is ${c.status}`, c.output);
        }
      }
    }
    for (const s of (d.healthHistory && d.healthHistory.series) || []) {
      const l = labelsOf(s.labels);
      const key = l.component ? `${l.component}:${l.check}` : s.labels;
      let prev = null;
      for (const p of s.points) {
        const st = healthStatus(p.v);
        if (prev !== null && st !== prev) add(new Date(p.t).toISOString(), st, `Health check ${key} went from ${prev} to ${st}`);
        prev = st;
      }
    }
    for (const g of (d.backups && d.backups.graphs) || []) {
      const f = g.last_failure;
      if (f) add(f.finished_at || f.started_at, 'fail', `Snapshot of ${g.graph_id} failed`, [f.error || 'no error recorded', ` (${f.id})`].join(''));
      const c = g.newest_completed;
      if (c) {
        add(c.finished_at, 'pass', `Snapshot of ${g.graph_id} completed`,
          `${c.kind}, ${fmtBytes(c.bytes_stored)}, ${fmtCount(c.nodes)} nodes, ${fmtCount(c.edges)} edges, took ${fmtSeconds(c.duration_seconds)}`);
      }
    }
    if (d.replication) {
      const names = new Map((d.replication.targets || []).map((t) => [t.id, t.name]));
      const lf = d.replication.events && d.replication.events.last_failure;
      if (lf) add(lf.started_at, 'fail', `Replication to ${names.get(lf.target_id) || lf.target_id} failed`, lf.error);
      for (const t of d.replication.targets || []) {
        if (t.last_success) add(t.last_success.started_at, 'pass', `Replicated to ${t.name}`, t.last_success.graph_id ? `graph ${t.last_success.graph_id}, ${fmtBytes(t.last_success.bytes)}` : '');
        if (t.last_error && (!lf || lf.target_id !== t.id)) add(t.last_check_at, 'fail', `Target ${t.name} reported an error`, t.last_error);
      }
    }
    if (d.recovery && d.recovery.checkpoints && d.recovery.checkpoints.newest) {
      const c = d.recovery.checkpoints.newest;
      add(c.created_at, c.validation_error ? 'fail' : 'info', `Checkpoint ${c.id} created`, c.validation_error || c.description);
    }
    ev.sort((a, b) => b.t - a.t);
    return ev.slice(0, maxEvents);
  }

  function renderEvents(d) {
    const ev = collectEvents(d);
    if (ev.length === 0) return [h('p', { class: 'empty' }, 'No events or failures recorded yet.')];
    return [h('ol', { class: 'events' }, ev.map((e) => h('li', { class: `event-${e.level}` },
      badge(e.level),
      timeEl(e.at, timeFmt.format(new Date(e.t))),
      h('span', { class: 'what' }, e.what, e.detail ? h('span', { class: 'detail' }, e.detail) : null))))];
  }

  const sections = [
    { id: 'totals', needs: ['summary'], draw: renderTotals },
    { id: 'health', needs: ['health'], draw: renderHealth },
    { id: 'graphs', needs: ['summary', 'backups'], draw: renderGraphs },
    { id: 'history', needs: ['sizes', 'durations', 'backups'], draw: renderHistory },
    { id: 'replication', needs: ['replication', 'lag'], draw: renderReplication },
    { id: 'checkpoints', needs: ['recovery'], draw: renderCheckpoints },
    { id: 'events', needs: ['health', 'healthHistory', 'backups', 'replication'], draw: renderEvents },
  ];

  // ---- page ----------------------------------------------------------------

  function renderBanner(problems) {
    const el = document.getElementById('errors');
    if (problems.length === 0) {
      el.hidden = true;
      el.replaceChildren();
      return;
    }
    el.replaceChildren(h('strong', {}, 'Some of the dashboard could not be loaded.'),
      h('ul', {}, problems.map((p) => h('li', {}, p))));
    el.hidden = false;
  }

  function renderOverall(d) {
    const el = document.getElementById('overall');
    const status = (d.health && d.health.status) || (d.summary && d.summary.health && d.summary.health.status) || 'unknown';
    const known = ['pass', 'warn', 'fail'].includes(status) ? status : 'unknown';
    el.title = (d.health && d.health.output) || '';
    if (el.textContent === known) return; // a live region: announce changes only
    el.className = `badge badge-${known}`;
    el.textContent = known;
    el.setAttribute('aria-label', `Overall health: ${known}`);
  }

  function renderUpdated() {
    const el = document.getElementById('updated');
    let text = `Updated ${timeFmt.format(new Date())}`;
    if (refreshSeconds > 0) text += state.paused ? ' · paused' : ` · every ${refreshSeconds} s`;
    el.textContent = text;
  }

  function render({ data, errors }) {
    const problems = Object.keys(errors).map((k) => [h('code', {}, errors[k].path), `: ${errors[k].message}`]);
    for (const s of sections) {
      const el = section(s.id);
      let content;
      try {
        content = s.draw(data, errors);
      } catch (e) {
        content = [h('p', { class: 'section-error' }, `This section could not be drawn: ${e && e.message ? e.message : e}`)];
        problems.push(`The ${s.id} section could not be drawn: ${e && e.message ? e.message : e}`);
      }
      el.replaceChildren(...errorNotes(errors, s.needs), ...content);
    }
    renderOverall(data);
    renderBanner(problems);
    renderUpdated();
    body.dataset.state = problems.length > 0 ? 'error' : 'ok';
  }

  function schedule() {
    clearTimeout(state.timer);
    state.timer = 0;
    if (refreshSeconds > 0 && !state.paused) state.timer = setTimeout(load, refreshSeconds * 1000);
  }

  async function load() {
    if (state.busy) return;
    state.busy = true;
    try {
      if (!document.hidden || state.loads === 0) {
        render(await fetchAll());
        state.loads++;
        body.dataset.loads = String(state.loads);
      }
    } catch (e) {
      renderBanner([`The dashboard could not load: ${e && e.message ? e.message : e}`]);
      body.dataset.state = 'error';
    } finally {
      state.busy = false;
      schedule();
    }
  }

  function start() {
    const win = document.getElementById('window');
    if (win) win.textContent = fmtWindow(windowParam);
    document.getElementById('refresh').addEventListener('click', () => {
      clearTimeout(state.timer);
      load();
    });
    const pause = document.getElementById('pause');
    pause.addEventListener('click', () => {
      state.paused = !state.paused;
      pause.setAttribute('aria-pressed', String(state.paused));
      pause.textContent = state.paused ? 'Resume' : 'Pause';
      renderUpdated();
      schedule();
    });
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden && !state.busy && !state.paused && refreshSeconds > 0) {
        clearTimeout(state.timer);
        load();
      }
    });
    load();
  }

  start();
})();
