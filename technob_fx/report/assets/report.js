/* technob-fx report page: waveform, grid, sections, click track, stems and every figure of
 * analysis.json. Written for this project (no library); runs from a file:// URL, offline.
 * Data comes from the <script type="application/json" id="report-data"> block of the page. */
(function () {
  "use strict";

  var R = (window.technobReport = { ready: false, clicks: 0, loadMs: null, drawMs: null, beatsDrawn: 0, notices: [] });
  var D = JSON.parse(document.getElementById("report-data").textContent);
  var A = D.analysis || {};   // the document as stored: shown in the table of every figure
  var G = D.grid || {};       // what is drawn: the analysis as the project's reader gives it
  var dur = Math.max(Number(D.duration) || 0, 1e-3);

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }
  function isNum(v) { return typeof v === "number" && isFinite(v); }
  function fmtTime(t, ms) {
    t = Math.max(0, t || 0);
    var m = Math.floor(t / 60), s = t - 60 * m;
    var ss = ms ? s.toFixed(3) : Math.floor(s).toString();
    if (s < 10) ss = "0" + ss;
    return m + ":" + ss;
  }
  function fmtNum(v) {
    if (!isNum(v)) return String(v);
    if (Number.isInteger(v)) return String(v);
    var a = Math.abs(v);
    if (a >= 1000) return v.toFixed(1);
    if (a >= 1) return String(Math.round(v * 1000) / 1000);
    return String(Number(v.toPrecision(4)));
  }
  function lowerBound(arr, x) {
    var lo = 0, hi = arr.length;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (arr[mid] < x) lo = mid + 1; else hi = mid; }
    return lo;
  }
  function notice(text) {
    R.notices.push(text);
    var box = $("notices");
    box.appendChild(el("li", null, text));
    box.parentNode.hidden = false;
  }

  /* ---- data: grid, sections, peaks ---- */
  var beats = (G.beats || []).filter(isNum);
  var downs = (G.downbeats || []).filter(isNum);
  var isDown = beats.map(function (b) {
    var i = lowerBound(downs, b - 1e-3);
    return i < downs.length && Math.abs(downs[i] - b) <= 1e-3;
  });
  var segments = G.segments || [];

  function decodePeaks(p) {
    function dec(s) {
      var bin = atob(s), out = new Int8Array(bin.length);
      for (var i = 0; i < bin.length; i++) out[i] = (bin.charCodeAt(i) << 24) >> 24;
      return out;
    }
    return { rate: p.rate, kind: p.kind, lo: dec(p.lo), hi: dec(p.hi) };
  }

  /* ---- header facts ---- */
  (function facts() {
    var key = G.key || {};
    var items = [
      ["tempo", isNum(G.tempo) ? G.tempo.toFixed(2) + " BPM" : "?"],
      ["meter", isNum(G.beats_per_bar) ? G.beats_per_bar + " beats per bar" : "?"],
      ["key", (key.label || "?") + (isNum(key.confidence) ? " (confidence " + key.confidence.toFixed(2) + ")" : "")],
      ["loudness", isNum(G.integrated_lufs) ? G.integrated_lufs.toFixed(1) + " LUFS integrated" : "?"],
      ["length", fmtTime(dur, false) + " (" + dur.toFixed(1) + " s)"],
      ["grid", downs.length + " bars, " + beats.length + " beats, " + segments.length + " sections"],
    ];
    var box = $("facts");
    items.forEach(function (it) {
      var d = el("div", "fact");
      d.appendChild(el("span", "fact-name", it[0]));
      d.appendChild(el("span", "fact-value", it[1]));
      d.dataset.fact = it[0];
      box.appendChild(d);
    });
  })();
  (D.notes || []).forEach(notice);

  /* ---- lanes: the mix and any stems ---- */
  var RULER = 28;
  var mixEl = $("audio");
  var lanes = [{
    name: "mix", label: D.title, peaks: decodePeaks(D.peaks), el: D.audio.found ? mixEl : null,
    h: D.stems.length ? 128 : 170, muted: false, solo: false, colour: D.wave_colour,
  }];
  D.stems.forEach(function (s) {
    var a = document.createElement("audio");
    a.preload = "auto";
    a.src = s.src;
    a.className = "stem-audio";
    a.dataset.stem = s.group + "/" + s.name;
    $("media").appendChild(a);
    lanes.push({ name: s.group + "/" + s.name, label: s.group + "/" + s.name, peaks: decodePeaks(s.peaks), el: a,
                 h: 72, muted: true, solo: false, colour: s.colour });
  });
  var totalH = RULER + lanes.reduce(function (acc, l) { return acc + l.h; }, 0);

  var viewport = $("viewport"), track = $("track"), canvas = $("wave"), heads = $("lane-heads");
  track.style.height = totalH + "px";
  heads.appendChild(el("div", "lane-head ruler-head", "bar"));
  heads.firstChild.style.height = RULER + "px";

  function applyAudible() {
    var anySolo = lanes.some(function (l) { return l.solo; });
    lanes.forEach(function (l) {
      var audible = anySolo ? l.solo : !l.muted;
      l.audible = audible;
      if (l.el) l.el.muted = !audible;
      if (l.head) {
        l.head.classList.toggle("inaudible", !audible);
        l.muteBtn.setAttribute("aria-pressed", String(l.muted));
        l.soloBtn.setAttribute("aria-pressed", String(l.solo));
      }
    });
    draw();
  }
  lanes.forEach(function (l, i) {
    var h = el("div", "lane-head");
    h.style.height = l.h + "px";
    h.dataset.lane = l.name;
    h.appendChild(el("div", "lane-name", i === 0 ? "mix" : l.label));
    var row = el("div", "lane-buttons");
    l.muteBtn = el("button", "lane-mute", "M");
    l.muteBtn.title = "mute " + l.name;
    l.soloBtn = el("button", "lane-solo", "S");
    l.soloBtn.title = "solo " + l.name;
    l.muteBtn.addEventListener("click", function () { l.muted = !l.muted; applyAudible(); });
    l.soloBtn.addEventListener("click", function () { l.solo = !l.solo; applyAudible(); });
    if (!l.el) { l.muteBtn.disabled = true; l.soloBtn.disabled = true; }
    row.appendChild(l.muteBtn);
    row.appendChild(l.soloBtn);
    h.appendChild(row);
    if (l.peaks.kind === "rms") h.appendChild(el("div", "lane-note", "RMS envelope (no audio)"));
    heads.appendChild(h);
    l.head = h;
  });

  /* ---- overlays: section bands, bar lines, beat lines (positions in % of the track) ---- */
  var overlays = $("overlays");
  function pct(t) { return (100 * t / dur) + "%"; }
  segments.forEach(function (s, i) {
    var b = el("div", "section-band");
    var colour = (D.segment_colours || [])[i] || "#888888";
    b.style.left = pct(s.start);
    b.style.width = pct(Math.max(s.end - s.start, 0));
    b.style.background = colour + "26";
    b.style.borderLeftColor = colour;
    b.dataset.label = s.label;
    b.title = s.label + "  " + fmtTime(s.start, true) + " - " + fmtTime(s.end, true) +
      (s.labeller ? "  (" + s.labeller + ")" : "");
    var lab = el("span", "section-label", s.label);
    lab.style.background = colour;
    b.appendChild(lab);
    overlays.appendChild(b);
  });
  downs.forEach(function (t, i) {
    var b = el("div", "bar-line");
    b.style.left = pct(t);
    b.dataset.bar = String(i + 1);
    overlays.appendChild(b);
  });
  var playhead = $("playhead");

  /* ---- zoom and drawing ---- */
  var pps = 1, fitPps = 1;
  var medBeat = beats.length > 1 ? (beats[beats.length - 1] - beats[0]) / (beats.length - 1) : 0.5;
  var medBar = downs.length > 1 ? (downs[downs.length - 1] - downs[0]) / (downs.length - 1) : medBeat * 4;
  var maxPps = Math.max(lanes[0].peaks.rate * 4, 50);

  function setZoom(newPps, anchorT, anchorX) {
    fitPps = Math.max(viewport.clientWidth, 100) / dur;
    newPps = Math.min(Math.max(newPps, fitPps), Math.max(maxPps, fitPps));
    if (anchorT === undefined) { anchorX = viewport.clientWidth / 2; anchorT = (viewport.scrollLeft + anchorX) / pps; }
    pps = newPps;
    track.style.width = Math.ceil(dur * pps) + "px";
    viewport.scrollLeft = Math.max(0, anchorT * pps - anchorX);
    track.classList.toggle("thin-bars", medBar * pps < 10);
    $("zoom-level").textContent = (pps / fitPps).toFixed(1) + "x";
    movePlayhead(clock.now());
    draw();
  }

  function drawLane(ctx, lane, y0, h, x0, w) {
    var p = lane.peaks, n = p.lo.length, mid = y0 + h / 2, half = h / 2 - 3;
    ctx.fillStyle = lane.colour;
    ctx.globalAlpha = lane.audible === false ? 0.35 : 1;
    var secPerPx = 1 / pps;
    for (var x = 0; x < w; x++) {
      var t0 = (x0 + x) * secPerPx;
      var i0 = Math.floor(t0 * p.rate), i1 = Math.floor((t0 + secPerPx) * p.rate);
      if (i0 >= n) break;
      if (i1 <= i0) i1 = i0 + 1;
      if (i1 > n) i1 = n;
      var lo = 127, hi = -127;
      for (var i = i0; i < i1; i++) { if (p.lo[i] < lo) lo = p.lo[i]; if (p.hi[i] > hi) hi = p.hi[i]; }
      var top = mid - (hi / 127) * half, bot = mid - (lo / 127) * half;
      ctx.fillRect(x, top, 1, Math.max(1, bot - top));
    }
    ctx.globalAlpha = 1;
    ctx.fillStyle = "#00000014";
    ctx.fillRect(0, y0 + h - 1, w, 1);
  }

  function drawRuler(ctx, x0, w) {
    ctx.fillStyle = "#f3f4f6";
    ctx.fillRect(0, 0, w, RULER);
    var steps = [0.1, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600];
    var step = steps[steps.length - 1];
    for (var k = 0; k < steps.length; k++) { if (steps[k] * pps >= 70) { step = steps[k]; break; } }
    ctx.fillStyle = "#555";
    ctx.font = "11px sans-serif";
    ctx.textBaseline = "top";
    var t = Math.floor(x0 / pps / step) * step;
    for (; t * pps < x0 + w; t += step) {
      var x = Math.round(t * pps - x0);
      ctx.fillRect(x, RULER - 6, 1, 6);
      ctx.fillText(step < 1 ? fmtTime(t, true) : fmtTime(t, false), x + 3, 2);
    }
    // bar numbers under the times, for the bars in view, thinned out to one every ~30 px
    var every = Math.max(1, Math.ceil(30 / Math.max(medBar * pps, 1e-3)));
    ctx.fillStyle = "#1d2330";
    ctx.font = "10px sans-serif";
    for (var i = lowerBound(downs, x0 / pps); i < downs.length && downs[i] * pps <= x0 + w; i++) {
      if (i % every === 0) ctx.fillText(String(i + 1), Math.round(downs[i] * pps - x0) + 2, 15);
    }
  }

  /* beats (not downbeats: those are .bar-line elements) on the canvas, only those in view */
  function drawBeats(ctx, x0, w) {
    var n = 0;
    if (medBeat * pps >= 6) {
      ctx.fillStyle = "#1d23302e";
      for (var i = lowerBound(beats, x0 / pps); i < beats.length && beats[i] * pps <= x0 + w; i++) {
        if (isDown[i]) continue;
        ctx.fillRect(Math.round(beats[i] * pps - x0), RULER, 1, totalH - RULER);
        n++;
      }
    }
    R.beatsDrawn = n;
  }

  function draw() {
    var started = performance.now();
    var w = viewport.clientWidth, dpr = window.devicePixelRatio || 1, x0 = viewport.scrollLeft;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(totalH * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(totalH * dpr);
      canvas.style.width = w + "px";
      canvas.style.height = totalH + "px";
    }
    canvas.style.left = x0 + "px";
    var ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, totalH);
    drawRuler(ctx, x0, w);
    var y = RULER;
    lanes.forEach(function (l) { drawLane(ctx, l, y, l.h, x0, w); y += l.h; });
    drawBeats(ctx, x0, w);
    R.drawMs = performance.now() - started;
  }

  viewport.addEventListener("scroll", draw, { passive: true });
  viewport.addEventListener("wheel", function (e) {
    if (!(e.ctrlKey || e.metaKey || e.altKey)) return;
    e.preventDefault();
    var rect = viewport.getBoundingClientRect(), ax = e.clientX - rect.left;
    setZoom(pps * Math.pow(1.0018, -e.deltaY), (viewport.scrollLeft + ax) / pps, ax);
  }, { passive: false });
  window.addEventListener("resize", function () { setZoom(pps === fitPps ? 0 : pps); });
  $("zoom-in").addEventListener("click", function () { setZoom(pps * 2); });
  $("zoom-out").addEventListener("click", function () { setZoom(pps / 2); });
  $("zoom-fit").addEventListener("click", function () { setZoom(0, 0, 0); });

  /* ---- transport: the mix audio element, or a silent clock when the audio is missing ---- */
  var clock = (function () {
    var master = lanes[0].el;
    if (master) {
      return {
        real: true,
        now: function () { return master.currentTime || 0; },
        paused: function () { return master.paused; },
        rate: function () { return master.playbackRate || 1; },
        play: function () { return master.play(); },
        pause: function () { master.pause(); },
        seek: function (t) { master.currentTime = t; },
      };
    }
    var startPerf = 0, startT = 0, running = false;
    return {
      real: false,
      now: function () { return running ? Math.min(dur, startT + (performance.now() - startPerf) / 1000) : startT; },
      paused: function () { return !running; },
      rate: function () { return 1; },
      play: function () { startPerf = performance.now(); running = true; return Promise.resolve(); },
      pause: function () { startT = this.now(); running = false; },
      seek: function (t) { startT = t; startPerf = performance.now(); },
    };
  })();
  if (!clock.real) notice("playback runs on a silent clock: the grid and the click track can still be auditioned");

  var stemEls = lanes.slice(1).map(function (l) { return l.el; });
  function syncStems(force) {
    var t = clock.now();
    stemEls.forEach(function (a) {
      if (force || Math.abs(a.currentTime - t) > 0.05) { try { a.currentTime = t; } catch (e) { /* not loaded yet */ } }
    });
  }
  function movePlayhead(t) {
    playhead.style.left = (t * pps) + "px";
    playhead.dataset.time = t.toFixed(3);
    $("time").textContent = fmtTime(t, true) + " / " + fmtTime(dur, true);
    var bi = lowerBound(downs, t + 1e-6) - 1;
    $("bar").textContent = bi >= 0 ? "bar " + (bi + 1) : "bar -";
  }
  var lastSync = 0;
  function frame() {
    var t = clock.now();
    movePlayhead(t);
    if ($("follow").checked && !clock.paused()) {
      var x = t * pps;
      if (x < viewport.scrollLeft || x > viewport.scrollLeft + viewport.clientWidth - 30) {
        viewport.scrollLeft = Math.max(0, x - 30);
      }
    }
    if (!clock.paused()) {
      if (t >= dur) { pause(); clock.seek(0); }
      if (performance.now() - lastSync > 500) { syncStems(false); lastSync = performance.now(); }
      requestAnimationFrame(frame);
    }
  }
  var playBtn = $("play");
  function play() {
    syncStems(true);
    resetClick();
    var p = clock.play();
    stemEls.forEach(function (a) {
      var q = a.play();
      if (q && q.catch) q.catch(function (e) { notice("stem " + a.dataset.stem + " cannot play: " + e.message); });
    });
    playBtn.textContent = "Pause";
    playBtn.setAttribute("aria-pressed", "true");
    if (p && p.catch) p.catch(function (e) { notice("the audio cannot play: " + e.message); pause(); });
    requestAnimationFrame(frame);
  }
  function pause() {
    clock.pause();
    stemEls.forEach(function (a) { a.pause(); });
    playBtn.textContent = "Play";
    playBtn.setAttribute("aria-pressed", "false");
    movePlayhead(clock.now());
  }
  function seek(t) {
    t = Math.min(Math.max(t, 0), dur);
    clock.seek(t);
    syncStems(true);
    resetClick();
    movePlayhead(t);
  }
  playBtn.addEventListener("click", function () { if (clock.paused()) play(); else pause(); });
  $("rewind").addEventListener("click", function () { seek(0); });
  track.addEventListener("mousedown", function (e) {
    if (e.button !== 0) return;
    var rect = track.getBoundingClientRect();
    seek((e.clientX - rect.left) / pps);
  });
  if (lanes[0].el) {
    lanes[0].el.addEventListener("error", function () {
      notice("the audio file could not be loaded: " + D.audio.src + " (moved, or a format this browser cannot decode)");
    });
    lanes[0].el.addEventListener("ended", pause);
  }
  stemEls.forEach(function (a) {
    a.addEventListener("error", function () { notice("stem could not be loaded: " + a.dataset.stem); });
  });

  /* ---- click track (WebAudio), scheduled ahead from the transport's time ---- */
  var actx = null, clickBus = null, clickOn = false, nextBeat = 0;
  function ensureAudio() {
    if (!actx) {
      var AC = window.AudioContext || window.webkitAudioContext;
      if (!AC) { notice("this browser has no WebAudio: no click track"); return null; }
      actx = new AC();
      clickBus = actx.createGain();
      clickBus.gain.value = Number($("click-volume").value);
      clickBus.connect(actx.destination);
    }
    if (actx.state === "suspended") actx.resume();
    return actx;
  }
  function clickAt(when, down) {
    var o = actx.createOscillator(), g = actx.createGain();
    o.frequency.value = down ? 1760 : 1175;
    g.gain.setValueAtTime(0.0001, when);
    g.gain.exponentialRampToValueAtTime(down ? 1.0 : 0.5, when + 0.002);
    g.gain.exponentialRampToValueAtTime(0.0001, when + 0.05);
    o.connect(g);
    g.connect(clickBus);
    o.start(when);
    o.stop(when + 0.06);
    R.clicks++;
  }
  function resetClick() { nextBeat = lowerBound(beats, clock.now() - 0.005); }
  function scheduleClicks() {
    if (!clickOn || !actx || clock.paused()) return;
    var now = clock.now(), rate = clock.rate(), horizon = now + 0.2 * rate;
    if (nextBeat > 0 && beats[nextBeat - 1] > now + 0.05) resetClick();  // jumped back
    while (nextBeat < beats.length && beats[nextBeat] < horizon) {
      var bt = beats[nextBeat];
      if (bt >= now - 0.01) clickAt(actx.currentTime + Math.max(0, (bt - now) / rate), isDown[nextBeat]);
      nextBeat++;
    }
  }
  setInterval(scheduleClicks, 25);
  var clickBtn = $("click");
  clickBtn.disabled = beats.length === 0;
  clickBtn.addEventListener("click", function () {
    clickOn = !clickOn;
    if (clickOn && !ensureAudio()) clickOn = false;
    resetClick();
    clickBtn.setAttribute("aria-pressed", String(clickOn));
    clickBtn.textContent = clickOn ? "Click on" : "Click off";
  });
  $("click-volume").addEventListener("input", function (e) { if (clickBus) clickBus.gain.value = Number(e.target.value); });

  document.addEventListener("keydown", function (e) {
    if (e.target && /INPUT|BUTTON|SELECT|TEXTAREA/.test(e.target.tagName) && e.key !== " ") return;
    if (e.key === " ") { e.preventDefault(); playBtn.click(); }
    else if (e.key === "c") clickBtn.click();
    else if (e.key === "+" || e.key === "=") setZoom(pps * 2);
    else if (e.key === "-") setZoom(pps / 2);
    else if (e.key === "0") setZoom(0, 0, 0);
    else if (e.key === "Home") seek(0);
  });

  /* ---- tempo map: bar tempo curve and the map's entries ---- */
  (function tempo() {
    var c = $("tempo-canvas"), bt = (D.bar_tempo && D.bar_tempo.times) || [], bb = (D.bar_tempo && D.bar_tempo.bpm) || [];
    var tm = (G.tempo_map || []).filter(function (e) { return e && isNum(e[0]) && isNum(e[1]); });
    var w = c.clientWidth || 800, h = c.clientHeight || 140, dpr = window.devicePixelRatio || 1;
    c.width = Math.round(w * dpr); c.height = Math.round(h * dpr);
    var ctx = c.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    var vals = bb.concat(tm.map(function (e) { return e[1]; })).filter(isNum);
    if (!vals.length && isNum(G.tempo)) vals = [G.tempo];
    var sorted = vals.slice().sort(function (a, b) { return a - b; });
    var med = sorted.length ? sorted[sorted.length >> 1] : 120;
    var spread = 3;
    sorted.forEach(function (v) { spread = Math.max(spread, Math.min(Math.abs(v - med) * 1.2, 40)); });
    var lo = med - spread, hi = med + spread, L = 44, B = 18;
    function X(t) { return L + (w - L - 6) * t / dur; }
    function Y(v) { return 6 + (h - B - 6) * (1 - (v - lo) / (hi - lo)); }
    ctx.font = "11px sans-serif";
    ctx.fillStyle = "#555";
    [lo, med, hi].forEach(function (v) { ctx.fillText(v.toFixed(1), 2, Y(v) + 4); ctx.fillRect(L, Y(v), w - L - 6, 0.5); });
    function steps(ts, vs, colour, width) {
      if (!ts.length) return;
      ctx.strokeStyle = colour; ctx.lineWidth = width; ctx.beginPath();
      ctx.moveTo(X(ts[0]), Y(vs[0]));
      for (var i = 0; i < ts.length; i++) {
        var next = i + 1 < ts.length ? ts[i + 1] : dur;
        ctx.lineTo(X(ts[i]), Y(vs[i])); ctx.lineTo(X(next), Y(vs[i]));
      }
      ctx.stroke();
    }
    steps(bt, bb, "#999", 1);
    steps(tm.map(function (e) { return e[0]; }), tm.map(function (e) { return e[1]; }), "#c00000", 2);
    ctx.fillStyle = "#555";
    ctx.fillText("0:00", L, h - 4);
    ctx.fillText(fmtTime(dur, false), w - 40, h - 4);
    var body = $("tempo-table").querySelector("tbody");
    tm.forEach(function (e) {
      var tr = el("tr");
      var bar = lowerBound(downs, e[0] + 1e-6);
      tr.appendChild(el("td", null, fmtTime(e[0], true)));
      tr.appendChild(el("td", null, bar > 0 ? String(bar) : "-"));
      tr.appendChild(el("td", null, e[1].toFixed(2)));
      body.appendChild(tr);
    });
  })();

  /* ---- key ---- */
  (function key() {
    var k = G.key || {}, box = $("key-box");
    box.appendChild(el("div", "key-label", k.label || "?"));
    Object.keys(k).forEach(function (name) {
      if (name === "label") return;
      var v = k[name];
      if (v !== null && typeof v === "object") return;
      box.appendChild(el("div", "key-field", name + ": " + (isNum(v) ? fmtNum(v) : String(v))));
    });
  })();

  /* ---- every figure of analysis.json ---- */
  function valuesText(arr) {
    return arr.map(function (v) { return v === null ? "null" : isNum(v) ? fmtNum(v) : JSON.stringify(v); }).join(", ");
  }
  function lazyDetails(summary, build) {
    var d = el("details");
    d.appendChild(el("summary", null, summary));
    var built = false;
    d.addEventListener("toggle", function () { if (d.open && !built) { built = true; d.appendChild(build()); } });
    return d;
  }
  function tableOf(rows, columns) {
    var t = el("table", "sub");
    var head = el("tr");
    head.appendChild(el("th", null, "#"));
    columns.forEach(function (c) { head.appendChild(el("th", null, c)); });
    var thead = el("thead"); thead.appendChild(head); t.appendChild(thead);
    var tb = el("tbody");
    rows.forEach(function (r, i) {
      var tr = el("tr");
      tr.appendChild(el("td", "idx", String(i + 1)));
      columns.forEach(function (c) { var td = el("td", "fig"); td.appendChild(render(r[c])); tr.appendChild(td); });
      tb.appendChild(tr);
    });
    t.appendChild(tb);
    return t;
  }
  function render(v) {
    if (v === null || v === undefined) return el("span", "null", "null");
    if (typeof v === "number") return el("span", "num", fmtNum(v));
    if (typeof v !== "object") return el("span", "str", String(v));
    if (Array.isArray(v)) {
      if (!v.length) return el("span", "null", "[] (empty)");
      var flat = v.every(function (x) { return x === null || typeof x !== "object"; });
      if (flat) {
        var nums = v.filter(isNum);
        if (v.length <= 8) return el("span", "num", valuesText(v));
        var range = nums.length ? " (" + fmtNum(Math.min.apply(null, nums)) + " ... " + fmtNum(Math.max.apply(null, nums)) + ")" : "";
        return lazyDetails(v.length + " values" + range, function () { return el("div", "values", valuesText(v)); });
      }
      if (v.every(function (x) { return x && typeof x === "object" && !Array.isArray(x); })) {
        var cols = [];
        v.forEach(function (x) { Object.keys(x).forEach(function (k) { if (cols.indexOf(k) < 0) cols.push(k); }); });
        if (v.length <= 24) { var wrap = el("div"); wrap.appendChild(tableOf(v, cols)); return wrap; }
        return lazyDetails(v.length + " items (" + cols.join(", ") + ")", function () { return tableOf(v, cols); });
      }
      var rows = v.map(function (x) { var o = {}; (Array.isArray(x) ? x : [x]).forEach(function (y, j) { o[j] = y; }); return o; });
      var width = Math.max.apply(null, rows.map(function (r) { return Object.keys(r).length; }));
      var cs = []; for (var j = 0; j < width; j++) cs.push(String(j));
      if (v.length <= 24) { var w2 = el("div"); w2.appendChild(tableOf(rows, cs)); return w2; }
      return lazyDetails(v.length + " rows", function () { return tableOf(rows, cs); });
    }
    var keys = Object.keys(v);
    var lens = keys.map(function (k) { return Array.isArray(v[k]) ? v[k].length : -1; });
    if (keys.length > 1 && lens.every(function (n) { return n > 8 && n === lens[0]; })) {  // columns, e.g. "bars"
      return lazyDetails(lens[0] + " rows x " + keys.length + " columns (" + keys.join(", ") + ")", function () {
        var rows2 = [];
        for (var i = 0; i < lens[0]; i++) { var o = {}; keys.forEach(function (k) { o[k] = v[k][i]; }); rows2.push(o); }
        return tableOf(rows2, keys);
      });
    }
    var t = el("table", "sub kv");
    var tb = el("tbody");
    keys.forEach(function (k) {
      var tr = el("tr");
      tr.dataset.key = k;
      tr.appendChild(el("th", null, k));
      var td = el("td", "fig"); td.appendChild(render(v[k])); tr.appendChild(td);
      tb.appendChild(tr);
    });
    t.appendChild(tb);
    return t;
  }
  (function figures() {
    var body = $("figures").querySelector("tbody");
    Object.keys(A).forEach(function (k) {
      var tr = el("tr");
      tr.dataset.key = k;
      tr.appendChild(el("th", null, k));
      var td = el("td", "fig"); td.appendChild(render(A[k])); tr.appendChild(td);
      body.appendChild(tr);
    });
  })();

  applyAudible();
  setZoom(0, 0, 0);
  movePlayhead(0);
  R.ready = true;
  R.loadMs = performance.now();
  document.documentElement.dataset.ready = "1";
})();
