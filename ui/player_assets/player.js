// The EM explorer's player: Play, Pause, a scrub slider and a speed, drawn in the browser from
// frames the server computed once (gmmcore/viz/frames.py). While it plays or scrubs, a canvas
// covers the Plotly scatter's plot area (same pixels, same axes: the axes are fixed for a run)
// and nothing goes to the server; when it stops (Pause, the end, the slider released) it sends
// the step reached ("stop" trigger) and the page redraws every panel at that step, then the
// canvas is removed. A "Place means" mode turns clicks on the plot into starting means ("place"
// trigger). This file only draws: every number comes from the server.

const KEY = "__gmmPlayer";
const HOLD = 0.4; // share of a half-step that holds still before the next transition
const SPEEDS = [0.5, 1, 2, 4]; // x the base rate
const BASE_RATE = 2; // half-steps per second at 1x

function decode(b64, Type) {
  const bin = atob(b64 || "");
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Type(bytes.buffer, 0, bytes.byteLength / Type.BYTES_PER_ELEMENT);
}

// Icons as inline SVG (no icon font to load, no glyph a font may lack).
const ICONS = {
  play: '<path d="M7 4.5v15l12-7.5z"/>',
  pause: '<path d="M6 4.5h4.5v15H6zM13.5 4.5H18v15h-4.5z"/>',
  place:
    '<path d="M11 2h2v4.06A6 6 0 0 1 17.94 11H22v2h-4.06A6 6 0 0 1 13 17.94V22h-2v-4.06A6 6 0 0 1 6.06 13H2v-2h4.06A6 6 0 0 1 11 6.06zm1 6a4 4 0 1 0 0 8 4 4 0 0 0 0-8z"/>',
};

function label(button, icon, text) {
  button.innerHTML = `<svg viewBox="0 0 24 24" aria-hidden="true">${ICONS[icon]}</svg>`;
  button.appendChild(el("span", {}, text));
}

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function ease(u) {
  const v = Math.min(1, Math.max(0, u / (1 - HOLD)));
  return v * v * (3 - 2 * v);
}

class Player {
  constructor(parent) {
    this.parent = parent;
    this.root = el("div", { class: "gmm-player" });
    this.bar = el("div", { class: "bar" });
    this.play = el("button", { type: "button", class: "play", "aria-label": "Play" });
    this.slider = el("input", {
      type: "range", min: "0", max: "0", step: "1", value: "0",
      "aria-label": "Half-step", title: "Drag to scrub through the half-steps",
    });
    this.speed = el("select", {
      "aria-label": "Speed", title: `Speed of Play (1\u00d7 = ${BASE_RATE} half-steps a second)`,
    });
    for (const s of SPEEDS) {
      const o = el("option", { value: String(s) }, `${s}\u00d7`);
      if (s === 1) o.selected = true;
      this.speed.appendChild(o);
    }
    this.place = el("button", {
      type: "button", class: "place",
      title: "Click on the plot to choose where EM starts: one click per component",
    });
    label(this.place, "place", "Place means");
    this.bar.append(this.play, this.slider, this.speed, this.place);
    this.placeBar = el("div", { class: "bar placing" });
    this.placeUse = el("button", { type: "button", class: "primary" }, "Start EM from these means");
    this.placeUndo = el("button", { type: "button" }, "Undo");
    this.placeCancel = el("button", { type: "button" }, "Cancel");
    this.placeBar.append(this.placeUse, this.placeUndo, this.placeCancel);
    this.note = ""; // a second caption line on the canvas (nothing here may change the height)
    this.root.append(this.bar, this.placeBar);
    parent.appendChild(this.root);

    this.playing = false;
    this.placing = false;
    this.placed = [];
    this.t = 0;
    this.overlay = null;
    this.pending = null;
    this.stats = { frames: 0, drawMs: 0, syncs: 0 };
    window.__gmmPlayer = this; // for the end-to-end tests (frame counter)

    this.play.onclick = () => (this.playing ? this.stop(true) : this.start());
    this.slider.oninput = () => this.scrub(Number(this.slider.value));
    this.slider.onchange = () => this.stop(true);
    this.place.onclick = () => this.startPlacing();
    this.placeUse.onclick = () => this.finishPlacing(true);
    this.placeUndo.onclick = () => { this.placed.pop(); this.drawPlacing(); };
    this.placeCancel.onclick = () => this.finishPlacing(false);
    this.tick = this.tick.bind(this);
    this.setPlaying(false);
    this.placeBar.hidden = true;
  }

  // -- data from the server --------------------------------------------------------------------

  update(data, send) {
    this.send = send;
    if (!data) return;
    if (data.run !== this.run) {
      // Another run or view (a new fit, another plane): whatever was on the canvas is stale.
      this.run = data.run;
      this.load(data);
      if (this.playing) this.setPlaying(false);
      this.playing = false;
      if (this.placing) this.finishPlacingBar();
      this.placing = false;
      this.pending = null;
      this.hideOverlay(250);
    }
    this.data = data;
    this.serverStep = data.current;
    const disabled = this.frames.length < 2;
    this.play.disabled = disabled;
    this.slider.disabled = disabled;
    this.place.hidden = !data.can_place;
    if (this.pending !== null && data.current === this.pending) {
      this.pending = null;
      this.hideOverlay(250); // let Plotly draw the new step under the canvas first
    }
    if (!this.playing && this.pending === null && !this.placing) {
      this.t = this.frameOf(data.current);
      this.slider.value = String(Math.round(this.t));
    }
    this.showLabel();
  }

  load(data) {
    const F = Float32Array;
    this.frames = data.frames;
    this.points = decode(data.points, F);
    this.colors = decode(data.colors, Uint8Array);
    this.means = decode(data.means, F);
    this.outlines = decode(data.outlines, F);
    this.mixture = data.mixture ? decode(data.mixture, F) : null;
    this.n = data.n_points;
    this.k = data.k;
    this.m = data.n_outline;
    this.slider.max = String(this.frames.length - 1);
    this.blend = new Uint8Array(this.n * 3);
  }

  frameOf(step) {
    let best = 0;
    this.frames.forEach((f, i) => { if (f.step <= step) best = i; });
    return best;
  }

  // -- playing and scrubbing -------------------------------------------------------------------

  start() {
    if (!this.frames || this.frames.length < 2) return;
    if (!this.showOverlay()) return;
    if (Math.round(this.t) >= this.frames.length - 1) this.t = 0; // Play at the end replays
    this.playing = true;
    this.setPlaying(true);
    this.last = performance.now();
    requestAnimationFrame(this.tick);
  }

  tick(now) {
    if (!this.playing) return;
    const rate = BASE_RATE * Number(this.speed.value);
    this.t += ((now - this.last) / 1000) * rate;
    this.last = now;
    const end = this.frames.length - 1;
    if (this.t >= end) {
      this.t = end;
      this.draw();
      this.stop(true);
      return;
    }
    this.draw();
    this.slider.value = String(Math.floor(this.t));
    requestAnimationFrame(this.tick);
  }

  scrub(i) {
    if (this.placing) return;
    if (!this.overlay && !this.showOverlay()) return;
    this.playing = false;
    this.setPlaying(false);
    this.t = i;
    this.draw();
  }

  stop(sync) {
    this.playing = false;
    this.setPlaying(false);
    this.t = Math.round(this.t);
    this.slider.value = String(this.t);
    if (!this.overlay) return;
    this.draw();
    const step = this.frames[this.t].step;
    if (!sync || step === this.serverStep) {
      this.pending = null;
      this.hideOverlay(0);
      return;
    }
    this.pending = step;
    this.stats.syncs += 1;
    this.note = `Updating the panels to step ${step}\u2026`;
    this.draw();
    this.send("stop", { step, at: Date.now() });
    // If the page never answers (a lost connection), do not leave the canvas up for ever.
    clearTimeout(this.safety);
    this.safety = setTimeout(() => { this.pending = null; this.hideOverlay(0); }, 10000);
  }

  setPlaying(on) {
    label(this.play, on ? "pause" : "play", on ? "Pause" : "Play");
    this.play.setAttribute("aria-label", on ? "Pause" : "Play");
    this.play.classList.toggle("on", on);
    this.place.disabled = on;
    this.note = on ? "Playing in your browser: the panels below follow when you pause." : "";
    this.dimHeading(on);
  }

  showLabel() {
    const f = this.frames[Math.round(this.t)];
    this.slider.title = f ? `Step ${f.step} of ${this.data.n_steps - 1}` : "";
  }

  dimHeading(on) {
    // The server's "Step i of n" heading is stale while the canvas plays: fade it.
    for (const e of document.querySelectorAll('[data-testid="stMarkdownContainer"] strong')) {
      if (/^Step \d+ of \d+/.test(e.textContent)) e.style.opacity = on ? "0.3" : "";
    }
  }

  // -- placing means ---------------------------------------------------------------------------

  startPlacing() {
    if (!this.showOverlay()) return;
    this.placing = true;
    this.placed = [];
    this.t = this.frameOf(this.serverStep);
    this.bar.hidden = true;
    this.placeBar.hidden = false;
    this.overlay.canvas.style.cursor = "crosshair";
    this.overlay.canvas.onclick = (ev) => {
      const g = this.overlay.geom;
      const r = this.overlay.canvas.getBoundingClientRect();
      const px = ev.clientX - r.left, py = ev.clientY - r.top;
      const x = g.x0 + ((px - g.left) / g.w) * (g.x1 - g.x0);
      const y = g.y1 - ((py - g.top) / g.h) * (g.y1 - g.y0);
      if (px < g.left || px > g.left + g.w || py < g.top || py > g.top + g.h) return;
      if (this.placed.length < 20) this.placed.push([x, y]);
      this.drawPlacing();
    };
    this.drawPlacing();
  }

  drawPlacing() {
    const n = this.placed.length;
    this.placeUse.textContent = n
      ? `Start EM from ${n === 1 ? "this mean" : `these ${n} means`} (K = ${n})`
      : "Click the plot to place a mean";
    this.placeUse.disabled = n === 0;
    this.placeUndo.disabled = n === 0;
    this.draw();
  }

  finishPlacingBar() {
    this.bar.hidden = false;
    this.placeBar.hidden = true;
  }

  finishPlacing(use) {
    this.finishPlacingBar();
    if (this.overlay) {
      this.overlay.canvas.onclick = null;
      this.overlay.canvas.style.cursor = "";
    }
    if (use && this.placed.length) {
      this.note = "Starting EM from the placed means\u2026";
      this.draw();
      this.send("place", { means: this.placed, at: Date.now() });
      clearTimeout(this.safety);
      this.safety = setTimeout(() => { this.placing = false; this.hideOverlay(0); }, 15000);
      return; // the canvas stays until the new run arrives
    }
    this.placing = false;
    this.placed = [];
    this.hideOverlay(0);
  }

  // -- the canvas over the figure --------------------------------------------------------------

  target() {
    const box = document.querySelector(this.data.target);
    if (!box) return null;
    const gd = box.querySelector(".js-plotly-plot");
    return { box, gd };
  }

  showOverlay() {
    if (this.overlay) return true;
    const t = this.target();
    if (!t) return false;
    const { box, gd } = t;
    const host = gd || box;
    const hr = host.getBoundingClientRect();
    const br = box.getBoundingClientRect();
    const fl = gd && gd._fullLayout;
    const d = this.data;
    let geom;
    const W = Math.round(hr.width), H = Math.round(hr.height);
    if (d.overlay === "plot" && fl && fl.xaxis && fl.yaxis) {
      // Exactly Plotly's plot area and (possibly zoomed) ranges: its axes stay visible around.
      const xa = fl.xaxis, ya = fl.yaxis;
      geom = {
        left: xa._offset, top: ya._offset, w: xa._length, h: ya._length,
        x0: xa.range[0], x1: xa.range[1], y0: ya.range[0], y1: ya.range[1],
        bg: fl.plot_bgcolor || "#fff", grid: xa.gridcolor || "#e5e5e5",
        xt: (xa._vals || []).map((v) => v.x), yt: (ya._vals || []).map((v) => v.x),
        axes: false, // the canvas covers the plot area only
      };
    } else {
      const left = 64, top = 34, right = 12, bottom = 48;
      geom = {
        left, top, w: W - left - right, h: H - top - bottom,
        x0: d.x_range[0], x1: d.x_range[1], y0: d.y_range[0], y1: d.y_range[1],
        bg: "#ffffff", grid: "#e8e8e8", xt: d.x_ticks, yt: d.y_ticks, axes: true,
      };
    }
    const canvas = el("canvas", { class: "gmm-player-canvas", "data-testid": "gmmPlayerCanvas" });
    const cw = geom.axes ? W : geom.w, ch = geom.axes ? H : geom.h;
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(cw * dpr);
    canvas.height = Math.round(ch * dpr);
    Object.assign(canvas.style, {
      position: "absolute", zIndex: "5",
      left: `${hr.left - br.left + (geom.axes ? 0 : geom.left)}px`,
      top: `${hr.top - br.top + (geom.axes ? 0 : geom.top)}px`,
      width: `${cw}px`, height: `${ch}px`, background: geom.bg,
    });
    if (!geom.axes) { geom.left = 0; geom.top = 0; }
    if (getComputedStyle(box).position === "static") box.style.position = "relative";
    box.appendChild(canvas);
    const ctx = canvas.getContext("2d");
    ctx.scale(dpr, dpr);
    // The figure's legend names the weights of the step the animation started from: fade it.
    const legend = gd ? Array.from(gd.querySelectorAll(".legend")) : [];
    for (const l of legend) l.style.opacity = "0.3";
    this.overlay = { canvas, ctx, geom, dpr, box, legend };
    this.paintBackground();
    return true;
  }

  hideOverlay(delay) {
    const o = this.overlay;
    if (!o) return;
    this.overlay = null;
    clearTimeout(this.safety);
    this.note = "";
    const remove = () => {
      o.canvas.remove();
      for (const l of o.legend) l.style.opacity = "";
    };
    delay ? setTimeout(remove, delay) : remove();
  }

  paintBackground() {
    // Background, grid and (standalone) axes once, kept as pixels: each frame starts from them.
    const { canvas, ctx, geom: g, dpr } = this.overlay;
    const cw = canvas.width / dpr, ch = canvas.height / dpr;
    ctx.fillStyle = g.axes ? "#ffffff" : g.bg;
    ctx.fillRect(0, 0, cw, ch);
    if (g.axes) { ctx.fillStyle = g.bg; ctx.fillRect(g.left, g.top, g.w, g.h); }
    ctx.strokeStyle = g.grid;
    ctx.lineWidth = 1;
    ctx.font = "12px sans-serif";
    ctx.fillStyle = "#555";
    for (const v of g.xt) {
      const x = this.sx(v);
      if (x < g.left || x > g.left + g.w) continue;
      ctx.beginPath(); ctx.moveTo(x, g.top); ctx.lineTo(x, g.top + g.h); ctx.stroke();
      if (g.axes) { ctx.textAlign = "center"; ctx.fillText(fmt(v), x, g.top + g.h + 16); }
    }
    for (const v of g.yt) {
      const y = this.sy(v);
      if (y < g.top || y > g.top + g.h) continue;
      ctx.beginPath(); ctx.moveTo(g.left, y); ctx.lineTo(g.left + g.w, y); ctx.stroke();
      if (g.axes) { ctx.textAlign = "right"; ctx.fillText(fmt(v), g.left - 6, y + 4); }
    }
    if (g.axes) {
      ctx.strokeStyle = "#888";
      ctx.strokeRect(g.left, g.top, g.w, g.h);
      ctx.textAlign = "center";
      ctx.fillStyle = "#333";
      ctx.fillText(this.data.x_label || "", g.left + g.w / 2, g.top + g.h + 36);
      ctx.save();
      ctx.translate(14, g.top + g.h / 2);
      ctx.rotate(-Math.PI / 2);
      ctx.fillText(this.data.y_label || "", 0, 0);
      ctx.restore();
      if (this.data.bars) this.paintBars();
    }
    this.bgPixels = ctx.getImageData(0, 0, canvas.width, canvas.height);
  }

  paintBars() {
    const { ctx } = this.overlay;
    const { edges, heights } = this.data.bars;
    ctx.fillStyle = "rgba(150,150,150,0.5)";
    for (let i = 0; i < heights.length; i++) {
      const x0 = this.sx(edges[i]), x1 = this.sx(edges[i + 1]);
      const y0 = this.sy(0), y1 = this.sy(heights[i]);
      ctx.fillRect(x0 + 0.5, y1, Math.max(1, x1 - x0 - 1), y0 - y1);
    }
  }

  sx(v) { const g = this.overlay.geom; return g.left + ((v - g.x0) / (g.x1 - g.x0)) * g.w; }
  sy(v) { const g = this.overlay.geom; return g.top + ((g.y1 - v) / (g.y1 - g.y0)) * g.h; }

  // -- one frame ---------------------------------------------------------------------------------

  draw() {
    if (!this.overlay) return;
    const t0 = performance.now();
    const last = this.frames.length - 1;
    const i = Math.min(Math.floor(this.t), last);
    const j = Math.min(i + 1, last);
    const u = i === j ? 0 : ease(this.t - i);
    if (!this.frames[i] || !this.frames[j]) return;
    if (this.placing) {
      // A new start: grey points (no responsibilities yet) and only the means placed so far.
      this.drawPoints(-1, -1, 0);
    } else {
      this.drawPoints(this.frames[i].color, this.frames[j].color, u);
      this.drawComponents(i, j, u);
    }
    const f = this.frames[u < 0.5 ? i : j];
    if (!f) return;
    this.drawCaption(f);
    if (this.placing) this.drawPlaced();
    this.stats.frames += 1;
    this.stats.drawMs = performance.now() - t0;
  }

  drawPoints(ca, cb, u) {
    const { canvas, ctx, geom: g, dpr } = this.overlay;
    // One pixel buffer per canvas, reset from the background at every frame (no allocation).
    if (!this.overlay.img) this.overlay.img = ctx.createImageData(canvas.width, canvas.height);
    const img = this.overlay.img;
    img.data.set(this.bgPixels.data);
    const px = img.data, W = canvas.width, H = canvas.height;
    const grey = this.data.grey, col = this.colors, n = this.n, out = this.blend;
    for (let p = 0; p < n; p++) {
      for (let c = 0; c < 3; c++) {
        const a = ca < 0 ? grey[c] : col[(ca * n + p) * 3 + c];
        const b = cb < 0 ? grey[c] : col[(cb * n + p) * 3 + c];
        out[p * 3 + c] = a + (b - a) * u;
      }
    }
    const r = Math.max(1, Math.round((n < 1000 ? 3 : 2) * dpr)); // Plotly's size 6 / 4 markers
    const alpha = 0.8, keep = 1 - alpha;
    const sxs = (g.w / (g.x1 - g.x0)) * dpr, sys = (g.h / (g.y1 - g.y0)) * dpr;
    const ox = g.left * dpr, oy = g.top * dpr;
    const xmin = ox, xmax = ox + g.w * dpr, ymin = oy, ymax = oy + g.h * dpr;
    const pts = this.points;
    for (let p = 0; p < n; p++) {
      const cx = Math.round(ox + (pts[2 * p] - g.x0) * sxs);
      const cy = Math.round(oy + (g.y1 - pts[2 * p + 1]) * sys);
      const R = out[p * 3], G = out[p * 3 + 1], B = out[p * 3 + 2];
      for (let dy = -r; dy <= r; dy++) {
        const y = cy + dy;
        if (y < ymin || y >= ymax || y < 0 || y >= H) continue;
        const span = Math.floor(Math.sqrt(r * r - dy * dy) + 0.5);
        for (let dx = -span; dx <= span; dx++) {
          const x = cx + dx;
          if (x < xmin || x >= xmax || x < 0 || x >= W) continue;
          const o = (y * W + x) * 4;
          px[o] = R * alpha + px[o] * keep;
          px[o + 1] = G * alpha + px[o + 1] * keep;
          px[o + 2] = B * alpha + px[o + 2] * keep;
        }
      }
    }
    ctx.putImageData(img, 0, 0);
  }

  drawComponents(i, j, u) {
    const { ctx } = this.overlay;
    const k = this.k, m = this.m, O = this.outlines, M = this.means;
    const dens = this.data.kind === "densities";
    const dash = { 1: [], 2: [6, 4], 3: [2, 3] };
    ctx.save();
    const g = this.overlay.geom;
    ctx.beginPath();
    ctx.rect(g.left, g.top, g.w, g.h);
    ctx.clip();
    for (let c = 0; c < k; c++) {
      const rgb = `rgb(${this.data.palette[c].join(",")})`;
      const mi = [0, 1].map((a) => M[(i * k + c) * 2 + a]);
      const mj = [0, 1].map((a) => M[(j * k + c) * 2 + a]);
      const mx = mi[0] + (mj[0] - mi[0]) * u, my = mi[1] + (mj[1] - mi[1]) * u;
      if (!Number.isFinite(mx) || !Number.isFinite(my)) continue;
      ctx.strokeStyle = rgb;
      for (const s of this.data.sd_levels) {
        ctx.lineWidth = s === 1 ? 2.5 : 1.5;
        ctx.setLineDash(dash[s] || []);
        ctx.beginPath();
        for (let q = 0; q < m; q++) {
          const a = ((i * k + c) * m + q) * 2, b = ((j * k + c) * m + q) * 2;
          let x = O[a] + (O[b] - O[a]) * u, y = O[a + 1] + (O[b + 1] - O[a + 1]) * u;
          if (!dens) { x = mx + s * (x - mx); y = my + s * (y - my); }
          q ? ctx.lineTo(this.sx(x), this.sy(y)) : ctx.moveTo(this.sx(x), this.sy(y));
        }
        ctx.stroke();
      }
      ctx.setLineDash([]);
      if (!dens) this.cross(this.sx(mx), this.sy(my), rgb, 7, 3.5);
      else this.cross(this.sx(mx), this.sy(0), rgb, 5, 2.5);
    }
    if (this.mixture) {
      ctx.strokeStyle = "#000";
      ctx.lineWidth = 3;
      ctx.beginPath();
      for (let q = 0; q < m; q++) {
        const a = (i * m + q) * 2, b = (j * m + q) * 2;
        const x = this.mixture[a] + (this.mixture[b] - this.mixture[a]) * u;
        const y = this.mixture[a + 1] + (this.mixture[b + 1] - this.mixture[a + 1]) * u;
        q ? ctx.lineTo(this.sx(x), this.sy(y)) : ctx.moveTo(this.sx(x), this.sy(y));
      }
      ctx.stroke();
    }
    ctx.restore();
  }

  cross(x, y, color, h, w) {
    const { ctx } = this.overlay;
    ctx.strokeStyle = color;
    ctx.lineWidth = w;
    ctx.beginPath();
    ctx.moveTo(x - h, y - h); ctx.lineTo(x + h, y + h);
    ctx.moveTo(x - h, y + h); ctx.lineTo(x + h, y - h);
    ctx.stroke();
  }

  drawCaption(f) {
    const { ctx, geom: g } = this.overlay;
    const text = this.placing
      ? "Click where each component should start"
      : f.caption || `Step ${f.step}`;
    ctx.font = "bold 13px sans-serif";
    ctx.textAlign = "left";
    let w = ctx.measureText(text).width;
    ctx.font = "12px sans-serif";
    w = Math.max(w, this.note ? ctx.measureText(this.note).width : 0);
    ctx.fillStyle = "rgba(255,255,255,0.88)";
    ctx.fillRect(g.left + 6, g.top + 6, w + 12, this.note ? 38 : 22);
    ctx.fillStyle = "#111";
    ctx.font = "bold 13px sans-serif";
    ctx.fillText(text, g.left + 12, g.top + 22);
    if (this.note) {
      ctx.font = "12px sans-serif";
      ctx.fillStyle = "#b3261e";
      ctx.fillText(this.note, g.left + 12, g.top + 38);
    }
    this.root.dataset.step = String(f.step);
  }

  drawPlaced() {
    const { ctx } = this.overlay;
    this.placed.forEach(([x, y], c) => {
      const p = this.data.palette_all[c % this.data.palette_all.length];
      const rgb = `rgb(${p.join(",")})`;
      const X = this.sx(x), Y = this.sy(y);
      ctx.fillStyle = "rgba(255,255,255,0.9)";
      ctx.beginPath(); ctx.arc(X, Y, 11, 0, 2 * Math.PI); ctx.fill();
      this.cross(X, Y, rgb, 7, 3.5);
      ctx.font = "bold 12px sans-serif";
      ctx.fillStyle = "#111";
      ctx.fillText(String(c), X + 10, Y - 9);
    });
  }

  destroy() {
    this.playing = false;
    clearTimeout(this.safety);
    if (this.overlay) this.overlay.canvas.remove();
    this.overlay = null;
    this.root.remove();
    this.dimHeading(false);
  }
}

function fmt(v) {
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(1);
  return String(Math.round(v * 1e6) / 1e6);
}

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  let p = parentElement[KEY];
  if (!p) {
    p = new Player(parentElement);
    parentElement[KEY] = p;
  }
  p.update(data, setTriggerValue);
  // Streamlit also calls this when a newer render overtook this one before it ran: only a
  // player whose element has left the page (the component unmounted) is torn down.
  return () =>
    setTimeout(() => {
      if (!p.root.isConnected && parentElement[KEY] === p) {
        p.destroy();
        delete parentElement[KEY];
      }
    }, 0);
}
