// Draws the report from the JSON in #report-data: the timeline, the tests,
// the console and the screenshots. Every string of the run goes through
// esc() before it reaches innerHTML.
//
// It draws in two steps. First what a reader sees on opening the page: the
// timeline and the first rows of the tests; then it sets
// document.body.dataset.ready = "1". The rest (the other rows, the console,
// inflated from its gzip, and the screenshots) is drawn after the load event
// in tasks of a few milliseconds, so that the page answers a scroll or a
// click meanwhile; then document.body.dataset.complete goes from "0" to "1".
// A filter, a search or a link to a row draws the remaining rows at once. A
// page opened at an anchor (#test-3, #console-test-3, #screen-0) draws what
// the anchor points to before it counts as drawn, and goes there.
(async function () {
  'use strict';
  document.body.dataset.complete = '0';
  var D = JSON.parse(document.getElementById('report-data').textContent);
  var LH = 18; // a console line's height in px, as .ln in the style

  function $(id) { return document.getElementById(id); }
  var ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
  function esc(s) { return String(s == null ? '' : s).replace(/[&<>"']/g, function (c) { return ESC[c]; }); }
  function cls(res) { return res === 'pass' || res === 'fail' || res === 'skip' ? res : 'other'; }

  // Times are milliseconds from D.start.
  function dur(ms) {
    if (ms == null || ms < 0) return '';
    if (ms < 1000) return Math.round(ms) + ' ms';
    if (ms < 60000) return (ms / 1000).toFixed(1) + ' s';
    var s = Math.round(ms / 1000);
    if (s < 3600) return Math.floor(s / 60) + ' m ' + (s % 60) + ' s';
    return Math.floor(s / 3600) + ' h ' + String(Math.floor(s / 60) % 60).padStart(2, '0') + ' m';
  }
  function rel(ms) {
    if (ms == null) return '';
    var neg = ms < 0; ms = Math.abs(ms);
    var h = Math.floor(ms / 3600000), m = Math.floor(ms / 60000) % 60, s = (ms % 60000) / 1000;
    var ss = s.toFixed(3).padStart(6, '0');
    return (neg ? '-' : '+') + (h ? h + ':' + String(m).padStart(2, '0') : m) + ':' + ss;
  }
  function clock(ms) { return ms == null || !D.start ? '' : new Date(D.start + ms).toISOString().slice(11, 23) + ' UTC'; }
  function when(ms) { var c = clock(ms); return rel(ms) + (c ? ' (' + c + ')' : ''); }

  // soon calls f in a later task, after the functions queued before it; the
  // queue runs in tasks of about 8 ms (a message to itself, which a browser
  // does not delay as it does a chain of timeouts), so that the page answers
  // a scroll or a click between them.
  var queue = [], channel = new MessageChannel();
  channel.port1.onmessage = function () {
    var until = performance.now() + 8;
    while (queue.length && performance.now() < until) queue.shift()();
    if (queue.length) channel.port2.postMessage(0);
  };
  function soon(f) {
    if (queue.push(f) === 1) channel.port2.postMessage(0);
  }

  // The tests, as a tree: a subtest under its nearest listed parent.
  var tests = D.tests.map(function (a, i) {
    var suite = D.suites[a[0]];
    return { i: i, suite: suite, name: a[1], key: suite + '/' + a[1], res: a[2], c: cls(a[2]), start: a[3], end: a[4],
      from: a[5], to: a[6], screen: a[7], out: a[8] || '', kids: [], depth: 0, parent: null };
  });
  var byKey = new Map();
  tests.forEach(function (t) { if (!byKey.has(t.key)) byKey.set(t.key, t); });
  var roots = [];
  tests.forEach(function (t) {
    var n = t.name, p = null, k;
    while (!p && (k = n.lastIndexOf('/')) > 0) { n = n.slice(0, k); p = byKey.get(t.suite + '/' + n); if (p === t) p = null; }
    if (p) { t.parent = p; p.kids.push(t); } else roots.push(t);
  });
  function byStart(a, b) {
    var sa = a.start == null ? Infinity : a.start, sb = b.start == null ? Infinity : b.start;
    return sa - sb || a.i - b.i;
  }
  roots.sort(function (a, b) { return (a.c === 'fail' ? 0 : 1) - (b.c === 'fail' ? 0 : 1) || byStart(a, b); });
  var order = [];
  (function walk(list, depth) {
    list.forEach(function (t) { t.depth = depth; order.push(t); t.kids.sort(byStart); walk(t.kids, depth + 1); });
  })(roots, 0);

  function firstMessage(out) {
    var ls = out.split('\n');
    for (var j = 0; j < ls.length; j++) {
      var l = ls[j].trim();
      if (l && !/^(=== |--- |FAIL$|PASS$)/.test(l)) return l;
    }
    return '';
  }

  // The console: times from deltas, escapes and carriage returns dropped.
  // It is read (and inflated) once, when first needed: after the first view
  // is drawn, or when a row's details show its lines.
  var lines = [], ts = [], conNote = '', consoleLoaded = null, consoleDone = false;
  function loadConsole() {
    if (!consoleLoaded) consoleLoaded = readConsole();
    return consoleLoaded;
  }
  async function readConsole() {
    var con = D.console || { t: [], x: [] };
    if (D.consoleGz) {
      try { con = JSON.parse(await gunzip(D.consoleGz)); } catch (e) {
        conNote = 'This browser cannot inflate the console (' + e + '); read serial.log beside this file.';
      }
    }
    var xs = con.x, tt = new Array(xs.length);
    for (var j = 0, acc = 0; j < xs.length; j++) {
      acc += con.t[j] || 0; tt[j] = acc;
      var s = xs[j];
      if (s.indexOf('\x1b') >= 0) s = s.replace(/\x1b\[[0-9;?]*[ -\/]*[@-~]/g, '').replace(/\x1b[()][0-9A-Za-z]/g, '');
      if (s.indexOf('\r') >= 0) s = s.replace(/\r/g, '');
      xs[j] = s;
    }
    lines = xs; ts = tt; consoleDone = true;
  }

  async function gunzip(b64) {
    var u;
    if (Uint8Array.fromBase64) u = Uint8Array.fromBase64(b64);
    else {
      var bin = atob(b64);
      u = new Uint8Array(bin.length);
      for (var k = 0; k < bin.length; k++) u[k] = bin.charCodeAt(k);
    }
    // A slice at a time, one per turn of the queue (see soon), so that no
    // task inflates for long.
    var ds = new DecompressionStream('gzip'), w = ds.writable.getWriter();
    var text = new Response(ds.readable).text();
    text.catch(function () {}); // a damaged input fails the writes too
    for (var k = 0; k < u.length; k += 1 << 16) {
      await w.write(u.subarray(k, k + (1 << 16)));
      await new Promise(soon);
    }
    await w.close();
    return await text;
  }

  // ---- timeline ----
  var PALETTE = ['#57606a', '#0969da', '#8250df', '#1b7c83', '#9a6700', '#bc4c00', '#6639ba', '#0550ae'];
  function color(name) {
    var h = 0;
    for (var k = 0; k < name.length; k++) h = (h * 31 + name.charCodeAt(k)) | 0;
    return PALETTE[Math.abs(h) % PALETTE.length];
  }
  function drawTimeline() {
    var el = $('timeline');
    var times = [0];
    D.stages.forEach(function (s) { times.push(s[1], s[2]); });
    D.flash.forEach(function (s) { times.push(s[0]); });
    D.power.forEach(function (p) { times.push(p[0]); });
    tests.forEach(function (t) { times.push(t.start, t.end); });
    D.screens.forEach(function (s) { times.push(s[0]); });
    if (D.consoleSpan) times.push(D.consoleSpan[0], D.consoleSpan[1]);
    var t0 = Infinity, t1 = -Infinity, known = 0;
    times.forEach(function (v) { if (v != null) { known++; if (v < t0) t0 = v; if (v > t1) t1 = v; } });
    if (known <= 1) {
      el.innerHTML = '<p class="empty">Nothing of this run has a time to draw.</p>';
      return;
    }
    if (t1 <= t0) t1 = t0 + 1000;
    var W = Math.max(640, el.clientWidth || 1000), L = 120, R = 24;
    function x(t) { return L + (t - t0) / (t1 - t0) * (W - L - R); }
    function f(v) { return Math.round(v * 10) / 10; }
    var out = [], over = [], y = 22;
    function label(text, yy) { out.push('<text class="lane-label" x="4" y="' + (yy + 11) + '">' + esc(text.length > 18 ? text.slice(0, 17) + '…' : text) + '<title>' + esc(text) + '</title></text>'); }
    function span(a, b) { return rel(a) + ' → ' + rel(b) + ' (' + dur(b - a) + ')\n' + clock(a) + ' → ' + clock(b); }

    // stages: spans packed into rows; marks (Start == End) in a lane of their own
    var spans = D.stages.filter(function (s) { return s[1] != null && s[2] != null && s[2] > s[1]; });
    var marks = D.stages.filter(function (s) { return s[1] != null && (s[2] == null || s[2] <= s[1]); });
    if (spans.length) {
      label('stages', y);
      var rows = [];
      spans.forEach(function (s) {
        var r = 0;
        while (r < rows.length && rows[r] > s[1]) r++;
        rows[r] = s[2];
        var x0 = x(s[1]), w = Math.max(1, x(s[2]) - x0), yy = y + r * 18;
        out.push('<g class="stage-g"><rect class="stage" x="' + f(x0) + '" y="' + yy + '" width="' + f(w) + '" height="16" rx="2" fill="' + color(s[0]) + '"><title>' + esc(s[0] + ': ' + span(s[1], s[2])) + '</title></rect>');
        if (w > s[0].length * 6.5 + 8) out.push('<text class="stage-label" x="' + f(x0 + 4) + '" y="' + (yy + 12) + '">' + esc(s[0]) + '</text>');
        out.push('</g>');
      });
      y += rows.length * 18 + 6;
    }
    if (marks.length) {
      label('boot', y);
      // each label on the first of 4 rows where it clears the one before;
      // none when no row has room (its title still tells)
      var ends = [-Infinity, -Infinity, -Infinity, -Infinity];
      marks.slice().sort(function (a, b) { return a[1] - b[1]; }).forEach(function (s) {
        var xx = x(s[1]), r = 0, w = s[0].length * 6 + 8;
        while (r < ends.length && ends[r] > xx) r++;
        var text = '';
        if (r < ends.length) {
          ends[r] = xx + 4 + w;
          text = '<text x="' + f(xx + 4) + '" y="' + (y + 9 + r * 11) + '">' + esc(s[0]) + '</text>';
        } else r = 0;
        out.push('<g class="mark"><line x1="' + f(xx) + '" x2="' + f(xx) + '" y1="' + (y + r * 11) + '" y2="' + (y + 46) + '"/><circle cx="' + f(xx) + '" cy="' + (y + 46) + '" r="3"/>' +
          text + '<title>' + esc(s[0] + ' at ' + when(s[1])) + '</title></g>');
      });
      y += 56;
    }

    // flash: MB/s between samples, merged to at least 2 px
    var fl = D.flash.filter(function (s) { return s[0] != null; }).sort(function (a, b) { return a[0] - b[0]; });
    if (fl.length >= 2) {
      var segs = [], a = fl[0];
      for (var k = 1; k < fl.length; k++) {
        var b = fl[k];
        if (b[0] > a[0] && (x(b[0]) - x(a[0]) >= 2 || k === fl.length - 1)) {
          segs.push([a[0], b[0], (b[1] - a[1]) / ((b[0] - a[0]) / 1000) / 1e6]);
          a = b;
        }
      }
      var max = 0.001;
      segs.forEach(function (s) { if (s[2] > max) max = s[2]; });
      var total = fl[fl.length - 1][1] - fl[0][1], secs = (fl[fl.length - 1][0] - fl[0][0]) / 1000;
      label('flash MB/s', y);
      out.push('<text x="4" y="' + (y + 24) + '">max ' + max.toFixed(1) + '</text>');
      var H = 36, base = y + H, d = 'M' + f(x(segs[0][0])) + ' ' + base;
      segs.forEach(function (s) {
        var yy = base - Math.max(0, s[2]) / max * H;
        d += ' L' + f(x(s[0])) + ' ' + f(yy) + ' L' + f(x(s[1])) + ' ' + f(yy);
        over.push('<rect class="hit" x="' + f(x(s[0])) + '" y="' + y + '" width="' + f(Math.max(1, x(s[1]) - x(s[0]))) + '" height="' + H + '"><title>' +
          esc(s[2].toFixed(1) + ' MB/s, ' + rel(s[0]) + ' → ' + rel(s[1])) + '</title></rect>');
      });
      d += ' L' + f(x(segs[segs.length - 1][1])) + ' ' + base + ' Z';
      out.push('<path class="flash-area" d="' + d + '"><title>' + esc('flash: ' + (total / 1e6).toFixed(1) + ' MB in ' + secs.toFixed(1) + ' s, ' +
        (secs > 0 ? (total / 1e6 / secs).toFixed(1) : '?') + ' MB/s on average') + '</title></path>');
      y += H + 8;
    }

    // tests: one lane per suite, top-level tests only; bars under 3 px merge
    var suites = [], lanes = new Map();
    tests.forEach(function (t) {
      if (t.parent || t.start == null || t.end == null) return;
      if (!lanes.has(t.suite)) { lanes.set(t.suite, []); suites.push(t.suite); }
      lanes.get(t.suite).push(t);
    });
    var rank = { fail: 3, other: 2, pass: 1, skip: 0 };
    suites.forEach(function (suite) {
      var list = lanes.get(suite).sort(byStart), segs = [], cur = null;
      list.forEach(function (t) {
        var x0 = x(t.start), x1 = Math.max(x(t.end), x0 + 1);
        if (cur && x0 - cur.x1 < 1 && (x1 - x0 < 3 || cur.x1 - cur.x0 < 3)) {
          cur.x1 = Math.max(cur.x1, x1); cur.n++; cur.end = Math.max(cur.end, t.end);
          cur.counts[t.c] = (cur.counts[t.c] || 0) + 1;
          if (rank[t.c] > rank[cur.c]) { cur.c = t.c; cur.t = t; }
        } else {
          cur = { x0: x0, x1: x1, n: 1, c: t.c, t: t, first: t, start: t.start, end: t.end, counts: {} };
          cur.counts[t.c] = 1;
          segs.push(cur);
        }
      });
      label(suite, y);
      segs.forEach(function (s) {
        var title = s.n === 1 ? s.t.key + ' — ' + s.t.res + '\n' + span(s.t.start, s.t.end)
          : s.n + ' tests from ' + s.first.key + ': ' + Object.keys(s.counts).map(function (k) { return s.counts[k] + ' ' + k; }).join(', ') + '\n' + span(s.start, s.end);
        var x0 = f(s.x0), w = f(s.x1 - s.x0), parts = '';
        if (s.n > 1) {
          // A merged bar shows its share of failures and skips, stacked
          // from the bottom over the passes' colour.
          var yy = y + 14;
          ['fail', 'other', 'skip'].forEach(function (k) {
            if (!s.counts[k]) return;
            var h = Math.max(1, 14 * s.counts[k] / s.n);
            yy -= h;
            parts += '<rect class="part ' + k + '" x="' + x0 + '" y="' + f(yy) + '" width="' + w + '" height="' + f(h) + '"/>';
          });
        }
        out.push('<a href="#test-' + s.t.i + '"><g><title>' + esc(title) + '</title><rect class="bar ' + s.c + (s.n > 1 ? ' merged' : '') + '" data-test="' + esc(s.t.key) + '" x="' + x0 + '" y="' + y + '" width="' + w + '" height="14"/>' + parts + '</g></a>');
      });
      y += 18;
    });

    // screenshots
    var shots = D.screens.map(function (s, k) { return [s, k]; }).filter(function (p) { return p[0][0] != null; });
    if (shots.length) {
      label('screenshots', y);
      shots.forEach(function (p) {
        var s = p[0], xx = x(s[0]);
        out.push('<a class="screen-mark" href="#screen-' + p[1] + '"><rect x="' + f(xx - 5) + '" y="' + (y + 1) + '" width="10" height="12" rx="2"/><title>' +
          esc((s[1] || 'screenshot') + (s[2] ? ' (' + s[2] + ')' : '') + ' at ' + when(s[0])) + '</title></a>');
      });
      y += 18;
    }

    // power: a glyph on the axis and a dashed line through every lane
    var top = 22, bottom = y;
    D.power.forEach(function (p) {
      if (p[0] == null) return;
      var xx = x(p[0]), what = String(p[1]), k = what === 'on' || what === 'off' || what === 'reboot' ? what : 'other';
      var glyph = k === 'on' ? 'M-5 0 L5 0 L0 -8 Z' : k === 'off' ? 'M-5 -8 L5 -8 L0 0 Z' : 'M-4 -8 L4 -8 L4 0 L-4 0 Z';
      over.push('<g class="power ' + k + '"><line x1="' + f(xx) + '" x2="' + f(xx) + '" y1="' + top + '" y2="' + bottom + '"/><path transform="translate(' + f(xx) + ' ' + (top - 2) + ')" d="' + glyph + '"/><title>' +
        esc('power ' + what + ' at ' + when(p[0])) + '</title></g>');
    });

    // the axis: a tick every "nice" step, about every 100 px
    var steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400].map(function (s) { return s * 1000; });
    var want = (t1 - t0) / Math.max(1, (W - L - R) / 100), step = steps[steps.length - 1];
    for (var k = 0; k < steps.length; k++) if (steps[k] >= want) { step = steps[k]; break; }
    var grid = [];
    for (var t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
      var xx = f(x(t));
      grid.push('<line class="grid" x1="' + xx + '" x2="' + xx + '" y1="14" y2="' + bottom + '"/><text x="' + xx + '" y="11" text-anchor="' + (xx > W - 40 ? 'end' : 'middle') + '">' +
        esc(rel(t).replace(/\.000$/, '')) + '</text>');
    }
    var h = bottom + 4;
    el.innerHTML = '<svg id="timeline-svg" xmlns="http://www.w3.org/2000/svg" width="' + W + '" height="' + h + '" viewBox="0 0 ' + W + ' ' + h + '">' +
      grid.join('') + out.join('') + over.join('') + '</svg>';
  }

  // ---- tests ----
  // Rows go in chunks of CHUNK, each its own table with the same fixed
  // columns, which the browser lays out only near the view
  // (content-visibility: auto): 10 000 rows lay out like 200. The first
  // chunk is drawn with the page; the others stand as empty blocks of their
  // height until drawn, each as it nears the view or after the first view.
  var CHUNK = 200, RH = 26, MH = 16, DH = 120;
  var COLS = '<colgroup><col class="res"><col><col class="suite"><col class="when"><col class="dur"><col class="links"></colgroup>';
  var chunks = [], undrawn = 0, seen = null, applyFilter = null;
  function drawTests() {
    var sec = $('tests');
    if (!tests.length) {
      sec.insertAdjacentHTML('beforeend', '<p class="empty">No test ran' + (D.ok ? '.' : ': the run stopped before its suites (see the failure above).') + '</p>');
      return;
    }
    var n = { all: tests.length, fail: 0, pass: 0, skip: 0, other: 0 };
    tests.forEach(function (t) { n[t.c]++; });
    var bar = '<div class="toolbar"><span class="filters">' +
      [['all', 'All'], ['fail', 'Failed'], ['pass', 'Passed'], ['skip', 'Skipped'], ['other', 'Other']].filter(function (b) { return b[0] === 'all' || n[b[0]]; })
        .map(function (b) { return '<button type="button" data-filter="' + b[0] + '"' + (b[0] === 'all' ? ' class="on"' : '') + '>' + b[1] + ' ' + n[b[0]] + '</button>'; }).join(' ') +
      '</span><input type="search" id="tests-search" placeholder="Filter by name" aria-label="Filter tests by name"><span class="muted" id="tests-shown"></span>' +
      '<span class="muted">failures first; click a row for its output</span></div>';
    var blocks = [];
    for (var k = 0; k < order.length; k += CHUNK) {
      var c = { rows: order.slice(k, k + CHUNK), h: 0, el: null, drawn: false };
      c.rows.forEach(function (t) {
        t.msg = t.c === 'fail' && t.out ? firstMessage(t.out) : '';
        t.h = t.msg ? RH + MH : RH;
        c.h += t.h;
      });
      chunks.push(c);
      blocks.push('<div class="chunk" style="height:' + c.h + 'px"></div>');
    }
    undrawn = chunks.length;
    sec.insertAdjacentHTML('beforeend', bar + '<div class="tests-wrap"><table class="tests head">' + COLS +
      '<thead><tr><th>Result</th><th>Test</th><th>Suite</th><th>Start</th><th>Duration</th><th></th></tr></thead></table><div id="tests-body">' + blocks.join('') + '</div></div>');

    var body = $('tests-body'), filter = 'all', query = '', timer = 0;
    chunks.forEach(function (c, k) { c.el = body.children[k]; c.el.dataset.chunk = k; });
    drawChunk(chunks[0]);
    if (undrawn && window.IntersectionObserver) {
      seen = new IntersectionObserver(function (es) {
        es.forEach(function (e) { if (e.isIntersecting) drawChunk(chunks[+e.target.dataset.chunk]); });
      }, { root: sec.querySelector('.tests-wrap'), rootMargin: '600px 0px' });
      chunks.forEach(function (c) { if (!c.drawn) seen.observe(c.el); });
    }
    function rowTest(r) { return tests[+r.id.slice(5)]; }
    // size tells each chunk the height of its shown rows, for while it is
    // not laid out.
    function size() {
      chunks.forEach(function (c) {
        var h = 0;
        for (var r = c.el.querySelector('tbody').firstElementChild; r; r = r.nextElementSibling) if (!r.hidden) h += r.classList.contains('detail') ? DH : rowTest(r).h;
        c.el.style.containIntrinsicHeight = h + 'px';
        c.el.hidden = h === 0;
      });
    }
    function apply() {
      drawAllRows();
      var shown = 0;
      sec.querySelectorAll('#tests-body tr').forEach(function (r) {
        if (r.classList.contains('detail')) { r.hidden = r.previousElementSibling.hidden; return; }
        var t = rowTest(r);
        var hide = (filter !== 'all' && t.c !== filter) || (query && t.key.toLowerCase().indexOf(query) < 0);
        r.hidden = hide;
        if (!hide) shown++;
      });
      size();
      $('tests-shown').textContent = shown === tests.length ? '' : shown + ' of ' + tests.length + ' shown';
    }
    sec.querySelector('.filters').addEventListener('click', function (e) {
      var b = e.target.closest('button');
      if (!b) return;
      filter = b.dataset.filter;
      sec.querySelectorAll('.filters button').forEach(function (x) { x.classList.toggle('on', x === b); });
      apply();
    });
    $('tests-search').addEventListener('input', function (e) {
      clearTimeout(timer);
      timer = setTimeout(function () { query = e.target.value.trim().toLowerCase(); apply(); }, 120);
    });
    body.addEventListener('click', function (e) {
      if (e.target.closest('a')) return;
      var img = e.target.closest('img');
      if (img) { zoom(img); return; }
      var r = e.target.closest('tr.t');
      if (r) toggle(r);
    });
    // A link to a row first draws every row, and shows them all if the row
    // is hidden.
    applyFilter = function (id) {
      drawAllRows();
      var r = $(id);
      if (r && r.hidden) {
        filter = 'all'; query = ''; $('tests-search').value = '';
        sec.querySelectorAll('.filters button').forEach(function (x) { x.classList.toggle('on', x.dataset.filter === 'all'); });
        apply();
      }
    };
    document.addEventListener('click', function (e) {
      var a = e.target.closest('a[href^="#test-"]');
      if (a) applyFilter(a.getAttribute('href').slice(1));
    }, true);
  }
  function rowHTML(t) {
    var shown = t.parent ? t.name.slice(t.parent.name.length + 1) : t.name, msg = t.msg;
    var links = '';
    if (t.from >= 0) links += '<a href="#console-test-' + t.i + '">console</a>';
    if (t.screen >= 0) links += '<a href="#screen-' + t.screen + '">screenshot</a>';
    return '<tr id="test-' + t.i + '" class="t ' + t.c + (msg ? ' m' : '') + (t.depth ? ' d' + Math.min(t.depth, 6) : '') + '" data-test="' + esc(t.key) + '">' +
      '<td class="res">' + esc(t.c === 'other' ? t.res || '?' : t.c) + '</td>' +
      '<td class="name">' + esc(shown) + (msg ? '<span class="msg">' + esc(msg) + '</span>' : '') + '</td>' +
      '<td>' + esc(t.suite) + '</td><td>' + esc(rel(t.start).replace(/\.\d+$/, '')) + '</td>' +
      '<td>' + esc(t.start != null && t.end != null ? dur(t.end - t.start) : '') + '</td><td class="links">' + links + '</td></tr>';
  }
  // drawChunk puts a chunk's rows in place of its empty block.
  function drawChunk(c) {
    if (c.drawn) return;
    c.drawn = true; undrawn--;
    if (seen) seen.unobserve(c.el);
    c.el.innerHTML = '<table class="tests">' + COLS + '<tbody>' + c.rows.map(rowHTML).join('') + '</tbody></table>';
    c.el.style.height = '';
    c.el.style.containIntrinsicHeight = c.h + 'px';
  }
  function drawAllRows() {
    if (!undrawn) return;
    chunks.forEach(drawChunk);
    if (seen) { seen.disconnect(); seen = null; }
  }
  function toggle(r) {
    var next = r.nextElementSibling;
    if (next && next.classList.contains('detail')) { next.remove(); return; }
    var t = tests[+r.id.slice(5)], extra = '', a = 0;
    if (t.screen >= 0 && D.screens[t.screen] && D.screens[t.screen][3]) {
      extra += '<img src="data:image/png;base64,' + esc(D.screens[t.screen][3]) + '" alt="' + esc(D.screens[t.screen][1] || 'screenshot') + '">';
    }
    if (t.from >= 0) {
      a = Math.max(t.from, t.to - 20);
      extra += '<div class="muted">console: lines ' + (t.from + 1) + '–' + t.to + ' (' + (t.to - t.from) + ') · <a href="#console-test-' + t.i + '">show in the console</a>' +
        (a > t.from ? ' · the last 20:' : '') + '</div>';
      if (t.to > t.from) extra += '<pre class="con-lines"></pre>';
    }
    r.insertAdjacentHTML('afterend', '<tr class="detail"><td colspan="6"><pre>' + esc(t.out || '(no output)') + '</pre>' + extra + '</td></tr>');
    var pre = r.nextElementSibling.querySelector('.con-lines');
    if (pre) whenConsole(function () { pre.textContent = lines.slice(a, t.to).join('\n'); });
  }
  // whenConsole calls f once the console is read: at once if it is.
  function whenConsole(f) {
    if (consoleDone) f(); else loadConsole().then(f);
  }

  // ---- console ----
  var view, rowsEl, drawn = '', selA = -1, selB = -1, cur = -1, q = '', lower = null, hits = [], hit = -1;
  var startAt = new Map(), consoleDrawn = false, consoleWanted = false;
  // drawConsoleFrame draws the console's toolbar and view, empty until the
  // console is read, so that the page below does not move when it is.
  function drawConsoleFrame() {
    var sec = $('console');
    if (!D.console && !D.consoleGz) {
      sec.insertAdjacentHTML('beforeend', '<p class="empty">No console was recorded for this run.</p>');
      return;
    }
    sec.insertAdjacentHTML('beforeend', '<div class="toolbar"><input type="search" id="console-search" placeholder="Search the console" aria-label="Search the console" disabled>' +
      '<button type="button" id="console-prev" title="previous (Shift+Enter)" disabled>↑</button><button type="button" id="console-next" title="next (Enter)" disabled>↓</button>' +
      '<span class="muted" id="console-count"></span><span class="muted" id="console-lines">reading the console…</span></div>' +
      '<div class="console-view" id="console-view" tabindex="0"><div class="console-spacer"><div class="console-rows" id="console-rows"></div></div></div><div class="anchors" hidden></div>');
  }
  // drawConsole fills the frame once the console is read.
  function drawConsole() {
    if (consoleDrawn) return;
    consoleDrawn = true;
    var sec = $('console');
    if (!lines.length) {
      var frame = sec.querySelectorAll('.toolbar, .console-view, .anchors');
      if (!frame.length) return; // no console: said so with the frame
      frame.forEach(function (e) { e.remove(); });
      sec.insertAdjacentHTML('beforeend', '<p class="empty">' + esc(conNote || 'No console was recorded for this run.') + '</p>');
      return;
    }
    var anchored = [];
    tests.forEach(function (t) {
      if (t.from < 0) return;
      if (t.from < lines.length) {
        var l = startAt.get(t.from);
        if (!l) startAt.set(t.from, l = []);
        l.push(t);
      }
      anchored.push(t);
    });
    $('console-lines').textContent = lines.length + ' lines; a dashed line starts a test';
    ['console-search', 'console-prev', 'console-next'].forEach(function (id) { $(id).disabled = false; });
    view = $('console-view'); rowsEl = $('console-rows');
    view.firstElementChild.style.height = lines.length * LH + 'px';
    // The anchors go in a few at a time, after the lines in view.
    var box = sec.querySelector('.anchors');
    for (var k = 0; k < anchored.length; k += 1000) {
      soon(function (part) {
        return function () {
          box.insertAdjacentHTML('beforeend', part.map(function (t) {
            return '<a id="console-test-' + t.i + '" data-anchor="" data-test="' + esc(t.key) + '" data-line="' + t.from + '"></a>';
          }).join(''));
        };
      }(anchored.slice(k, k + 1000)));
    }
    var pending = false;
    view.addEventListener('scroll', function () {
      if (pending) return;
      pending = true;
      requestAnimationFrame(function () { pending = false; draw(false); });
    });
    var timer = 0;
    $('console-search').addEventListener('input', function (e) {
      clearTimeout(timer);
      timer = setTimeout(function () { search(e.target.value); }, 150);
    });
    $('console-search').addEventListener('keydown', function (e) {
      if (e.key !== 'Enter') return;
      e.preventDefault();
      if (e.target.value.toLowerCase() !== q) search(e.target.value); else step(e.shiftKey ? -1 : 1);
    });
    $('console-prev').addEventListener('click', function () { step(-1); });
    $('console-next').addEventListener('click', function () { step(1); });
    draw(true);
    if (consoleWanted) onHash(); // a link to the console followed before it was drawn
  }
  function draw(force) {
    if (!view) return;
    var top = view.scrollTop, h = view.clientHeight || 600;
    var a = Math.max(0, Math.floor(top / LH) - 40), b = Math.min(lines.length, Math.ceil((top + h) / LH) + 40);
    if (!force && drawn === a + ':' + b) return;
    drawn = a + ':' + b;
    var html = [];
    for (var i = a; i < b; i++) html.push(line(i));
    rowsEl.style.top = a * LH + 'px';
    rowsEl.innerHTML = html.join('');
  }
  function line(i) {
    var c = 'ln', tag = '', st = startAt.get(i);
    if (i >= selA && i < selB) c += ' sel';
    if (i === cur) c += ' cur';
    if (st) {
      c += ' start';
      var t = st[0];
      tag = '<a class="tag ' + t.c + '" href="#test-' + t.i + '" title="' + esc(st.map(function (s) { return s.key + ' (' + s.res + ')'; }).join('\n')) + '">▶ ' + esc(t.key) +
        (st.length > 1 ? ' +' + (st.length - 1) : '') + '</a>';
    }
    return '<div class="' + c + '"><span class="no">' + (i + 1) + '</span><span class="ts" title="' + esc(clock(ts[i])) + '">' + esc(rel(ts[i])) + '</span>' + mark(lines[i]) + tag + '</div>';
  }
  function mark(s) {
    if (!q) return esc(s);
    var lo = s.toLowerCase();
    if (lo.length !== s.length) return esc(s);
    var out = '', p = 0, k;
    while ((k = lo.indexOf(q, p)) >= 0) { out += esc(s.slice(p, k)) + '<mark>' + esc(s.slice(k, k + q.length)) + '</mark>'; p = k + q.length; }
    return out + esc(s.slice(p));
  }
  function search(v) {
    q = v.toLowerCase(); hits = []; hit = -1; cur = -1;
    if (q) {
      if (!lower) lower = lines.map(function (s) { return s.toLowerCase(); });
      for (var i = 0; i < lower.length; i++) if (lower[i].indexOf(q) >= 0) hits.push(i);
    }
    $('console-count').textContent = q ? (hits.length ? hits.length + ' lines match' : 'no match') : '';
    if (hits.length) step(1); else draw(true);
  }
  function step(d) {
    if (!hits.length) return;
    hit = (hit + d + hits.length) % hits.length;
    cur = hits[hit];
    $('console-count').textContent = (hit + 1) + ' of ' + hits.length + ' lines';
    scrollTo(cur);
  }
  function scrollTo(i) {
    view.scrollTop = Math.max(0, i * LH - view.clientHeight / 3);
    var r = view.getBoundingClientRect();
    if (r.top < 0 || r.bottom > window.innerHeight) view.scrollIntoView({ block: 'nearest' });
    draw(true);
  }
  function onHash() {
    var m = /^#(console-)?test-(\d+)$/.exec(location.hash), t = m && tests[+m[2]];
    if (!t) return;
    if (!m[1]) {
      // A row not drawn yet, or hidden, when the address changed: the
      // browser found nothing to go to.
      var r = $('test-' + t.i);
      if (!r || r.hidden) { applyFilter('test-' + t.i); $('test-' + t.i).scrollIntoView(); }
      return;
    }
    consoleWanted = !view;
    if (t.from >= 0 && view) {
      // The anchors are hidden (the lines in view are drawn on demand), so
      // the page scrolls to the test's first line here.
      selA = t.from; selB = t.to; // none when it printed nothing: its tag marks the place
      scrollTo(Math.min(t.from, lines.length - 1));
    }
  }

  // ---- screenshots ----
  var screensDrawn = false;
  function drawScreens() {
    if (screensDrawn) return;
    screensDrawn = true;
    var sec = $('screens');
    if (!D.screens.length) {
      sec.insertAdjacentHTML('beforeend', '<p class="empty">No screenshots: the DUT has no screen, or no test failed on it.</p>');
      return;
    }
    var html = D.screens.map(function (s, k) {
      var t = s[2] ? byKey.get(s[2]) : null;
      var img = s[3] ? '<img src="data:image/png;base64,' + esc(s[3]) + '" alt="' + esc(s[1] || 'screenshot') + '"' + (s[2] ? ' data-test="' + esc(s[2]) + '"' : '') + '>' : '<p class="empty">(no image)</p>';
      return '<figure id="screen-' + k + '"' + (s[2] ? ' class="fail-shot"' : '') + '>' + img + '<figcaption>' + esc(s[1] || 'screenshot') + ' · ' + esc(rel(s[0])) +
        (s[2] ? ' · ' + (t ? '<a href="#test-' + t.i + '">' + esc(s[2]) + '</a>' : esc(s[2])) : '') + '</figcaption></figure>';
    });
    sec.insertAdjacentHTML('beforeend', '<div class="gallery">' + html.join('') + '</div>');
    sec.addEventListener('click', function (e) { var img = e.target.closest('img'); if (img) zoom(img); });
  }
  function zoom(img) {
    var box = $('lightbox'), big = document.createElement('img');
    big.src = img.src; big.alt = img.alt;
    box.replaceChildren(big);
    box.hidden = false;
  }
  $('lightbox').addEventListener('click', function () { this.hidden = true; this.replaceChildren(); });
  document.addEventListener('keydown', function (e) { if (e.key === 'Escape') $('lightbox').hidden = true; });

  // ---- facts: a copy button beside monospace values ----
  document.querySelectorAll('#facts td.mono').forEach(function (td) {
    if (!navigator.clipboard) return;
    var b = document.createElement('button');
    b.type = 'button'; b.className = 'copy'; b.textContent = 'copy';
    var text = td.textContent;
    b.addEventListener('click', function () {
      navigator.clipboard.writeText(text).then(function () { b.textContent = 'copied'; }, function () { b.textContent = 'select and copy'; });
    });
    td.appendChild(b);
  });

  // ---- drawing ----
  // rest draws what the first view does not show, then marks the page
  // complete.
  function rest() {
    soon(drawScreens);
    chunks.forEach(function (c) { soon(function () { drawChunk(c); }); });
    soon(function () {
      loadConsole().then(function () {
        soon(function () {
          drawConsole();
          soon(function () { document.body.dataset.complete = '1'; }); // after the console's anchors
        });
      });
    });
  }

  var anchor = location.hash;
  drawTimeline();
  drawTests();
  drawConsoleFrame();
  var resize = 0;
  window.addEventListener('resize', function () { clearTimeout(resize); resize = setTimeout(drawTimeline, 150); });
  window.addEventListener('hashchange', onHash);
  if (anchor) {
    // Opened at an anchor: what it points to is drawn first (a row by
    // onHash), then the page goes there.
    if (/^#screen-/.test(anchor)) drawScreens();
    else if (/^#console-test-/.test(anchor)) { await loadConsole(); drawConsole(); }
    onHash();
    var target = document.getElementById(decodeURIComponent(anchor.slice(1)));
    if (target) target.scrollIntoView();
  }
  void document.body.offsetHeight; // lay the page out before it counts as drawn
  document.body.dataset.drawnMs = Math.round(performance.now()); // from the start of navigation
  document.body.dataset.ready = '1';
  if (document.readyState === 'complete') rest();
  else window.addEventListener('load', rest, { once: true });
})();
