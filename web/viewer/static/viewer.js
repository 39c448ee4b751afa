// Arbor journey viewer: lays a journey out with dagre (vendor/dagre.min.js) and draws it
// as SVG; a click or Enter on a node opens its config and type docs in the side panel.
//
// The data comes from the page's <script type="application/json" id="graph-data"> block
// (the same shape as graph.json), because the Content Security Policy allows no inline
// script. Every text from the journey is set with textContent, never as markup.
(function () {
  'use strict';

  var SVGNS = 'http://www.w3.org/2000/svg';
  var START_KEY = '\u0000start'; // cannot collide: vertex keys are "kind:id"

  var state = {
    original: null, // the stored version the page was opened on
    graph: null, // what is drawn now (the stored version or a checked document)
    rankdir: 'LR', // as ForgeRock's tree editor: start on the left, terminals on the right
    autoDir: true, // until the direction button is used, the direction that fits best wins
    layouts: {}, // rankdir -> dagre layout of state.graph; the layout ignores the space
    fitting: true, // until a zoom button is used, every change of space refits
    scale: 1,
    natural: { w: 0, h: 0 },
    selected: null,
    opener: null // the vertex that opened the panel, to return focus to
  };

  function $(id) { return document.getElementById(id); }

  function h(tag, attrs, text) {
    var e = document.createElement(tag);
    setAttrs(e, attrs);
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  function s(tag, attrs, text) {
    var e = document.createElementNS(SVGNS, tag);
    setAttrs(e, attrs);
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  function setAttrs(e, attrs) {
    if (!attrs) return;
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, String(attrs[k])); });
  }

  function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); }

  // Text is measured in the SVG itself, with the classes it will be drawn with, so the
  // boxes dagre lays out fit their labels whatever fonts the browser has.
  function measurer(svg) {
    var g = s('g', { 'class': 'measure', 'aria-hidden': 'true' });
    svg.appendChild(g);
    return {
      width: function (text, wrapClass, textClass) {
        var wrap = s('g', { 'class': wrapClass });
        var t = s('text', { 'class': textClass || '' }, text);
        wrap.appendChild(t);
        g.appendChild(wrap);
        var w = t.getComputedTextLength();
        g.removeChild(wrap);
        return w;
      },
      done: function () { svg.removeChild(g); }
    };
  }

  // The widest a node's text may be before it wraps: long titles and type names
  // would otherwise make every rank wide and the whole drawing small.
  var WRAP = 124;
  var LINE = { title: 15, id: 13, type: 13, plain: 16 };

  // wrap breaks text into lines no wider than max: at spaces, or after '_' in ids and
  // type names; a single word wider than max keeps its own line.
  function wrap(text, max, m, wrapClass, textClass, sep) {
    var parts = sep === '_' ? text.split(/(?<=_)/) : text.split(/(?<= )/);
    var lines = [];
    var cur = '';
    parts.forEach(function (p) {
      if (cur && m.width((cur + p).trim(), wrapClass, textClass) > max) {
        lines.push(cur.trim());
        cur = p;
      } else {
        cur += p;
      }
    });
    if (cur.trim()) lines.push(cur.trim());
    return lines.length ? lines : [''];
  }

  // lines returns what a vertex shows, one entry per text line, with its class. A
  // node shows its title (or id), its id and its type, each on its own lines.
  function lines(v, m) {
    var cls = vertexClass(v);
    var out = [];
    var add = function (text, kind, sep) {
      wrap(text, WRAP, m, cls, kind, sep).forEach(function (t) { out.push({ text: t, cls: kind }); });
    };
    if (v.kind === 'node') {
      add(v.title || v.id, 'title', ' ');
      if (v.title) add(v.id, 'id', '_');
      add(v.type || '(no type)', 'type', '_');
    } else if (v.kind === 'missing') {
      add('missing: ' + v.id, 'plain', '_');
    } else {
      out.push({ text: v.id, cls: 'plain' });
    }
    out.forEach(function (l) { l.width = m.width(l.text, cls, l.cls); });
    return out;
  }

  function vertexClass(v) {
    var c = ['vertex'];
    if (v.kind === 'node') c.push('node');
    else if (v.kind === 'missing') c.push('missing');
    else c.push('terminal', v.kind);
    if (v.start) c.push('start');
    if (v.problems && v.problems.length) c.push('has-problem');
    return c.join(' ');
  }

  function sizeOf(v, ls) {
    var w = Math.ceil(Math.max.apply(null, ls.map(function (l) { return l.width; })));
    var h = ls.reduce(function (sum, l) { return sum + LINE[l.cls]; }, 0);
    if (v.kind === 'node') return { width: Math.max(110, w + 24), height: h + 14 };
    if (v.kind === 'missing') return { width: w + 24, height: h + 16 };
    return { width: Math.max(84, w + 44), height: 36 };
  }

  // ordered returns g's vertices in the order dagre should meet them: breadth first
  // from the start node along each node's outcomes in their declared order (the order
  // of g.edges), then anything not reached, then the terminals. dagre seeds its
  // crossing reduction with this order, so siblings start out in outcome order and
  // success and failure at the far end instead of wherever the server listed them.
  function ordered(g) {
    var byKey = {}, out = [], seen = {};
    g.nodes.forEach(function (v) { byKey[v.key] = v; });
    var isTerminal = function (v) { return v.kind === 'success' || v.kind === 'failure'; };
    var visit = function (v) {
      if (!v || seen[v.key] || isTerminal(v)) return;
      seen[v.key] = true;
      out.push(v);
    };
    g.nodes.filter(function (v) { return v.start; }).forEach(visit);
    for (var i = 0; i < out.length; i++) {
      var from = out[i].key;
      g.edges.forEach(function (e) { if (e.from === from) visit(byKey[e.to]); });
    }
    g.nodes.forEach(visit);
    ['success', 'failure'].forEach(function (k) {
      g.nodes.forEach(function (v) { if (v.kind === k) out.push(v); });
    });
    return out;
  }

  // crossings counts the pairs of edges of dg whose routes (dagre's points, joined
  // straight) cross; edges that share a vertex meet there, which does not count.
  function crossings(dg) {
    var d = function (u, v, w) { return (v.x - u.x) * (w.y - u.y) - (v.y - u.y) * (w.x - u.x); };
    var cross = function (p, q, r, t) { return d(p, q, r) * d(p, q, t) < 0 && d(r, t, p) * d(r, t, q) < 0; };
    var es = dg.edges().map(function (e) { return { v: e.v, w: e.w, pts: dg.edge(e).points }; });
    var n = 0;
    es.forEach(function (e, i) {
      es.slice(i + 1).forEach(function (f) {
        if (e.v === f.v || e.v === f.w || e.w === f.v || e.w === f.w) return;
        for (var k = 1; k < e.pts.length; k++) {
          for (var l = 1; l < f.pts.length; l++) {
            if (cross(e.pts[k - 1], e.pts[k], f.pts[l - 1], f.pts[l])) { n++; return; }
          }
        }
      });
    });
    return n;
  }

  // bestLayout lays g out in rankdir from two seed orders, the server's and the outcome
  // order (see ordered), and keeps the one with fewer crossings: dagre's heuristic
  // depends on its seed, and neither seed wins on every journey.
  function bestLayout(g, svg, rankdir) {
    var a = layout(g, svg, rankdir, ordered(g));
    var b = layout(g, svg, rankdir, g.nodes);
    return crossings(b) < crossings(a) ? b : a;
  }

  function layout(g, svg, rankdir, vs) {
    var m = measurer(svg);
    var dg = new dagre.graphlib.Graph({ multigraph: true });
    dg.setGraph({ rankdir: rankdir, nodesep: 16, ranksep: 24, edgesep: 8, marginx: 12, marginy: 12 });
    dg.setDefaultEdgeLabel(function () { return {}; });
    var rank = {};
    vs.forEach(function (v, i) { rank[v.key] = i; });
    vs.forEach(function (v) {
      var ls = lines(v, m);
      var size = sizeOf(v, ls);
      size.lines = ls;
      dg.setNode(v.key, size);
    });
    var start = g.nodes.filter(function (v) { return v.start; })[0];
    if (start) {
      dg.setNode(START_KEY, { width: 44, height: 30 });
      dg.setEdge(START_KEY, start.key, { width: 0, height: 0 }, 'start');
    }
    // Edges go in by their source's place in that order, each node's in outcome order.
    g.edges.map(function (e, i) { return { e: e, i: i }; }).sort(function (a, b) {
      return (rank[a.e.from] - rank[b.e.from]) || (a.i - b.i);
    }).forEach(function (x) {
      var w = Math.ceil(m.width(x.e.label, 'edge-label', '')) + 8;
      dg.setEdge(x.e.from, x.e.to, { width: w, height: 15, labelpos: 'c' }, 'e' + x.i);
    });
    m.done();
    dagre.layout(dg);
    return dg;
  }

  // A smooth path through dagre's edge points: straight to the first midpoint, then
  // quadratic curves with each inner point as control.
  function pathThrough(pts) {
    if (pts.length < 2) return '';
    var d = 'M' + pts[0].x + ',' + pts[0].y;
    if (pts.length === 2) return d + 'L' + pts[1].x + ',' + pts[1].y;
    var mid = function (a, b) { return { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 }; };
    var m0 = mid(pts[0], pts[1]);
    d += 'L' + m0.x + ',' + m0.y;
    for (var i = 1; i < pts.length - 1; i++) {
      var mm = i === pts.length - 2 ? pts[i + 1] : mid(pts[i], pts[i + 1]);
      d += 'Q' + pts[i].x + ',' + pts[i].y + ' ' + mm.x + ',' + mm.y;
    }
    return d;
  }

  function defs() {
    var d = s('defs');
    [['arrow', 'arrow'], ['arrow-problem', 'arrow-problem']].forEach(function (a) {
      var mk = s('marker', { id: a[0], viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' });
      mk.appendChild(s('path', { d: 'M0,0L10,5L0,10z', 'class': a[1] }));
      d.appendChild(mk);
    });
    return d;
  }

  function drawShape(gv, v, n) {
    var w = n.width, hgt = n.height;
    if (v.kind === 'success') {
      gv.appendChild(s('rect', { 'class': 'shape', x: -w / 2, y: -hgt / 2, width: w, height: hgt, rx: hgt / 2, ry: hgt / 2 }));
    } else if (v.kind === 'failure') {
      var c = 10, x = w / 2, y = hgt / 2;
      var pts = [[-x + c, -y], [x - c, -y], [x, -y + c], [x, y - c], [x - c, y], [-x + c, y], [-x, y - c], [-x, -y + c]];
      gv.appendChild(s('polygon', { 'class': 'shape', points: pts.map(function (p) { return p.join(','); }).join(' ') }));
    } else {
      gv.appendChild(s('rect', { 'class': 'shape', x: -w / 2, y: -hgt / 2, width: w, height: hgt, rx: 6, ry: 6 }));
    }
    var total = n.lines.reduce(function (sum, l) { return sum + LINE[l.cls]; }, 0);
    var y = -total / 2;
    n.lines.forEach(function (l) {
      y += LINE[l.cls];
      // Baselines sit a little above each line's bottom, so descenders fit.
      gv.appendChild(s('text', { 'class': l.cls, 'text-anchor': 'middle', y: y - 4 }, l.text));
    });
    if (v.problems && v.problems.length) {
      var b = s('g', { 'class': 'badge-group', transform: 'translate(' + (w / 2 - 2) + ',' + (-hgt / 2 + 2) + ')' });
      b.appendChild(s('circle', { 'class': 'badge', r: 9 }));
      b.appendChild(s('text', { 'class': 'badge-text', 'text-anchor': 'middle', 'dominant-baseline': 'central' }, String(v.problems.length)));
      gv.appendChild(b);
    }
  }

  function ariaLabel(v) {
    if (v.kind === 'success') return 'Terminal: success';
    if (v.kind === 'failure') return 'Terminal: failure';
    if (v.kind === 'missing') return 'Missing node ' + v.id;
    var l = 'Node ' + v.id + (v.title ? ', ' + v.title : '') + ', type ' + (v.type || 'none');
    if (v.start) l += ', start';
    if (v.problems && v.problems.length) l += ', ' + v.problems.length + ' problem' + (v.problems.length === 1 ? '' : 's');
    return l;
  }

  // drawGraph lays g out in both directions (once per graph: the layout does not depend
  // on the space) and draws it in the chosen one, fitted to the free space.
  function drawGraph(g) {
    var svg = $('graph');
    clear(svg);
    state.layouts = { LR: bestLayout(g, svg, 'LR'), TB: bestLayout(g, svg, 'TB') };
    state.fitting = true;
    if (state.autoDir) state.rankdir = bestDirection();
    directionLabel();
    paint(g, state.layouts[state.rankdir]);
    fit();
  }

  // paint draws the laid-out graph dg into the SVG at its natural size.
  function paint(g, dg) {
    var svg = $('graph');
    clear(svg);
    var gi = dg.graph();
    var w = Math.ceil(gi.width), hgt = Math.ceil(gi.height);
    state.natural = { w: w, h: hgt };
    svg.setAttribute('viewBox', '0 0 ' + w + ' ' + hgt);
    svg.appendChild(defs());

    var edges = s('g', { 'class': 'edges' });
    svg.appendChild(edges);
    var sv = s('g', { 'class': 'vertices' });
    svg.appendChild(sv);

    if (dg.hasNode(START_KEY)) {
      var sn = dg.node(START_KEY);
      var sm = s('g', { 'class': 'start-marker', transform: 'translate(' + sn.x + ',' + sn.y + ')', 'aria-hidden': 'true' });
      sm.appendChild(s('text', { 'text-anchor': 'middle', y: -4 }, 'start'));
      sm.appendChild(s('circle', { r: 5, cy: 9 }));
      sv.appendChild(sm);
      var se = dg.edge(START_KEY, g.nodes.filter(function (v) { return v.start; })[0].key, 'start');
      var sp = s('g', { 'class': 'edge start-edge', 'aria-hidden': 'true' });
      sp.appendChild(s('path', { d: pathThrough(se.points), 'marker-end': 'url(#arrow)' }));
      edges.appendChild(sp);
    }

    g.edges.forEach(function (e, i) {
      var de = dg.edge(e.from, e.to, 'e' + i);
      var ge = s('g', { 'class': 'edge' + (e.problem ? ' problem' : ''), 'data-from': e.from, 'data-to': e.to, 'data-label': e.label });
      ge.appendChild(s('path', { d: pathThrough(de.points), 'marker-end': e.problem ? 'url(#arrow-problem)' : 'url(#arrow)' }));
      var gl = s('g', { 'class': 'edge-label', transform: 'translate(' + de.x + ',' + de.y + ')' });
      gl.appendChild(s('rect', { x: -de.width / 2, y: -de.height / 2, width: de.width, height: de.height, rx: 3, ry: 3 }));
      gl.appendChild(s('text', { 'text-anchor': 'middle', 'dominant-baseline': 'central' }, e.label));
      ge.appendChild(gl);
      edges.appendChild(ge);
    });

    g.nodes.forEach(function (v) {
      var n = dg.node(v.key);
      var gv = s('g', {
        'class': vertexClass(v), transform: 'translate(' + n.x + ',' + n.y + ')',
        tabindex: 0, role: 'button', 'aria-label': ariaLabel(v),
        'data-key': v.key, 'data-id': v.id, 'data-kind': v.kind
      });
      drawShape(gv, v, n);
      gv.addEventListener('click', function () { openPanel(v.key, gv, false); });
      gv.addEventListener('keydown', function (ev) {
        if (ev.key === 'Enter' || ev.key === ' ') {
          ev.preventDefault();
          openPanel(v.key, gv, true);
        }
      });
      sv.appendChild(gv);
    });
    svg.setAttribute('data-ready', 'true');
    svg.setAttribute('data-rankdir', dg.graph().rankdir);
    reselect();
  }

  // reselect marks the vertex of the open panel again after a redraw.
  function reselect() {
    var key = $('panel').hidden ? null : $('panel').getAttribute('data-key');
    if (!key) return;
    state.selected = vertexEl(key);
    state.opener = state.selected;
    if (state.selected) state.selected.classList.add('selected');
  }

  // space is the free room for the drawing: the canvas's width (the panel, when open,
  // already takes its share of the row) and the height from the canvas's top to the
  // bottom of the window, so nothing of the graph starts below the fold.
  function space() {
    var c = $('canvas');
    var top = c.getBoundingClientRect().top + window.scrollY;
    var frame = c.offsetHeight - c.clientHeight; // the borders
    return {
      w: Math.max(120, c.clientWidth - 4),
      h: Math.max(240, Math.min(window.innerHeight * 0.78, window.innerHeight - top - 16) - frame - 4)
    };
  }

  function fitScale(w, h) {
    var sp = space();
    return Math.min(1, sp.w / w, sp.h / h);
  }

  // bestDirection picks the direction whose drawing fits the free space at the larger
  // scale: a wide window suits left to right, a narrow one (the panel open) top to bottom.
  function bestDirection() {
    var best = null, bestScale = -1;
    ['LR', 'TB'].forEach(function (d) {
      var gi = state.layouts[d].graph();
      var sc = fitScale(gi.width, gi.height);
      // LR wins ties: it is how ForgeRock's editor draws trees.
      if (sc > bestScale + 0.01) { best = d; bestScale = sc; }
    });
    return best;
  }

  // refit follows a change of the free space (the panel opened or closed, the window
  // resized): the best direction is chosen again, unless the user chose one, and the
  // drawing is fitted, unless the user zoomed.
  function refit() {
    if (!state.graph || !state.layouts.LR || !state.fitting) return;
    if (state.autoDir) {
      var d = bestDirection();
      if (d !== state.rankdir) {
        state.rankdir = d;
        paint(state.graph, state.layouts[d]);
        directionLabel();
      }
    }
    fit();
  }

  function directionLabel() {
    $('direction').textContent = state.rankdir === 'TB' ? 'Left to right' : 'Top to bottom';
  }

  // zoom draws the SVG at scale times its natural size; the viewBox keeps the layout.
  function zoom(scale) {
    scale = Math.min(2, Math.max(0.2, scale));
    state.scale = scale;
    var svg = $('graph');
    svg.setAttribute('width', Math.round(state.natural.w * scale));
    svg.setAttribute('height', Math.round(state.natural.h * scale));
    $('zoom-level').textContent = Math.round(scale * 100) + '%';
  }

  // fit shows the whole drawing in the free space, however small that makes it.
  function fit() {
    zoom(fitScale(state.natural.w, state.natural.h));
  }

  function vertexEl(key) {
    var all = $('graph').querySelectorAll('.vertex');
    for (var i = 0; i < all.length; i++) if (all[i].getAttribute('data-key') === key) return all[i];
    return null;
  }

  function renderProblems(g) {
    var box = $('problems');
    clear(box);
    if (g.valid) {
      box.appendChild(h('p', { 'class': 'valid' }, 'Valid: this document compiles against the node types of this server.'));
      return;
    }
    var div = h('div', { 'class': 'invalid' });
    var n = g.problems.length;
    div.appendChild(h('h2', null, n + ' problem' + (n === 1 ? '' : 's') + ': this document could not run on this server'));
    var ul = h('ul');
    g.problems.forEach(function (p) {
      var li = h('li', { 'data-pointer': p.pointer });
      li.appendChild(h('code', null, p.pointer || '/'));
      li.appendChild(document.createTextNode(' ' + p.code + ': ' + p.message));
      if (p.node) {
        var b = h('button', { type: 'button', 'class': 'small' }, 'Show ' + p.node);
        b.addEventListener('click', function () {
          var key = 'node:' + p.node;
          openPanel(key, vertexEl(key), true);
        });
        li.appendChild(b);
      }
      ul.appendChild(li);
    });
    div.appendChild(ul);
    box.appendChild(div);
  }

  function dlRow(dl, k, v) {
    dl.appendChild(h('dt', null, k));
    var dd = h('dd');
    if (v instanceof Node) dd.appendChild(v); else dd.textContent = v;
    dl.appendChild(dd);
  }

  function typeDocs(body, t) {
    body.appendChild(h('h3', null, 'About ' + (t.title || t.type)));
    body.appendChild(h('p', { 'class': 'summary' }, t.summary));
    if (t.description) body.appendChild(h('p', null, t.description));
    body.appendChild(h('h3', null, 'Fields'));
    if (!t.fields || !t.fields.length) {
      body.appendChild(h('p', null, 'This type has no configuration.'));
    } else {
      t.fields.forEach(function (f) {
        var d = h('div', { 'class': 'field' });
        d.appendChild(h('code', null, f.name));
        var meta = [f.type];
        if (f.required) meta.push('required');
        if (f.default !== undefined) meta.push('default ' + JSON.stringify(f.default));
        if (f.enum && f.enum.length) meta.push('one of ' + f.enum.join(', '));
        d.appendChild(h('span', { 'class': 'meta' }, ' ' + meta.join(' \u00b7 ')));
        d.appendChild(h('div', null, f.doc));
        body.appendChild(d);
      });
    }
    body.appendChild(h('h3', null, 'Type outcomes'));
    if (t.dynamic_outcomes) body.appendChild(h('p', null, 'This type\u2019s outcomes depend on its configuration.'));
    if (t.outcomes && t.outcomes.length) {
      var ul = h('ul');
      t.outcomes.forEach(function (o) {
        var li = h('li');
        li.appendChild(h('code', null, o.id));
        if (o.label) li.appendChild(document.createTextNode(' \u2014 ' + o.label));
        ul.appendChild(li);
      });
      body.appendChild(ul);
    }
  }

  function openPanel(key, opener, focusPanel) {
    var g = state.graph;
    var v = g.nodes.filter(function (x) { return x.key === key; })[0];
    if (!v) return;
    if (state.selected) state.selected.classList.remove('selected');
    state.selected = opener;
    state.opener = opener;
    if (opener) opener.classList.add('selected');

    var panel = $('panel');
    var body = $('panel-body');
    clear(body);
    panel.setAttribute('data-key', key);
    $('panel-title').textContent = v.kind === 'node' ? (v.title || v.id) : (v.kind === 'missing' ? 'Missing: ' + v.id : v.id);

    if (v.kind === 'success' || v.kind === 'failure') {
      body.appendChild(h('p', null, v.kind === 'success'
        ? 'Terminal: the flow ends and the user is signed in (a session is created).'
        : 'Terminal: the flow ends and the login fails.'));
    } else if (v.kind === 'missing') {
      body.appendChild(h('p', null, 'No node has the id \u201c' + v.id + '\u201d: the outcomes drawn to it lead nowhere, so the journey cannot be saved.'));
    } else {
      var dl = h('dl');
      dlRow(dl, 'Id', h('code', null, v.id));
      dlRow(dl, 'Type', h('code', null, v.type || '(none)'));
      if (v.title) dlRow(dl, 'Title', v.title);
      if (v.start) dlRow(dl, 'Start', 'yes: the journey begins here');
      body.appendChild(dl);

      if (v.problems && v.problems.length) {
        body.appendChild(h('h3', null, 'Problems'));
        var pu = h('ul', { 'class': 'problems' });
        v.problems.forEach(function (p) {
          var li = h('li');
          li.appendChild(h('code', null, p.pointer));
          li.appendChild(document.createTextNode(' ' + p.code + ': ' + p.message));
          pu.appendChild(li);
        });
        body.appendChild(pu);
      }

      body.appendChild(h('h3', null, 'Config'));
      var cfg = v.config === undefined || v.config === null ? '(none: the type\u2019s defaults apply)' : JSON.stringify(v.config, null, 2);
      body.appendChild(h('pre', { id: 'panel-config' }, cfg));

      body.appendChild(h('h3', null, 'Outcomes'));
      if (!v.outcomes || !v.outcomes.length) {
        body.appendChild(h('p', null, 'None.'));
      } else {
        var ou = h('ul');
        v.outcomes.forEach(function (o) {
          var li = h('li', o.declared ? null : { 'class': 'undeclared' });
          li.appendChild(h('code', null, o.id));
          li.appendChild(document.createTextNode(' \u2192 ' + (o.to || 'not connected') + (o.declared ? '' : ' (the type has no such outcome)')));
          ou.appendChild(li);
        });
        body.appendChild(ou);
      }

      var t = g.types[v.type];
      if (t) typeDocs(body, t);
      else body.appendChild(h('p', { 'class': 'undeclared' }, 'This server has no node type \u201c' + (v.type || '') + '\u201d.'));
    }
    panel.hidden = false;
    refit(); // the panel took part of the row
    if (focusPanel) panel.focus();
  }

  function closePanel() {
    var panel = $('panel');
    var was = !panel.hidden;
    panel.hidden = true;
    panel.removeAttribute('data-key');
    if (state.selected) state.selected.classList.remove('selected');
    state.selected = null;
    if (was) refit(); // the row is the canvas's again
  }

  // closeAndReturn closes the panel and gives the focus back to the vertex that opened
  // it, found again by key: closing may refit in the other direction, a new drawing.
  function closeAndReturn() {
    var key = state.opener && state.opener.getAttribute('data-key');
    closePanel();
    var o = key && vertexEl(key);
    if (o) o.focus();
  }

  function render(g) {
    state.graph = g;
    state.layouts = {}; // the old graph's; drawGraph lays the new one out
    closePanel();
    renderProblems(g);
    drawGraph(g);
  }

  function check() {
    var status = $('try-status');
    status.className = '';
    status.textContent = 'Checking\u2026';
    var token = document.querySelector('meta[name="arbor-csrf"]').getAttribute('content');
    fetch('/admin/journeys/validate', {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-Arbor-CSRF': token },
      body: $('doc').value
    }).then(function (r) {
      return r.json().then(function (body) { return { ok: r.ok, body: body }; });
    }).then(function (res) {
      if (!res.ok) throw new Error(res.body && res.body.message ? res.body.message : 'the check failed');
      render(res.body);
      var n = res.body.problems.length;
      status.textContent = res.body.valid ? 'Valid.' : n + ' problem' + (n === 1 ? '' : 's') + ' found.';
      var showing = $('showing');
      showing.textContent = 'Showing the checked document (not saved), not the stored version.';
      showing.hidden = false;
      $('reset').hidden = false;
      $('problems').scrollIntoView({ block: 'start' });
    }).catch(function (err) {
      status.className = 'error';
      status.textContent = 'Could not check the document: ' + err.message;
    });
  }

  function reset() {
    render(state.original);
    $('showing').hidden = true;
    $('reset').hidden = true;
    $('try-status').textContent = '';
  }

  // adminAPI calls the admin API (/api/admin/v1) with the session cookie. The custom
  // X-Requested-With header is the API's CSRF defence for cookie sessions: a cross-site
  // form cannot send it, and the API offers no CORS. It resolves with the status and the
  // decoded body (null if there is none or it is not JSON).
  function adminAPI(method, path, body, ifMatch) {
    var headers = { 'X-Requested-With': 'arbor', 'Accept': 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (ifMatch) headers['If-Match'] = '"' + ifMatch + '"';
    return fetch('/api/admin/v1' + path, {
      method: method, credentials: 'same-origin', headers: headers, body: body
    }).then(function (r) {
      return r.text().then(function (t) {
        var b = null;
        try { b = t ? JSON.parse(t) : null; } catch (e) { b = null; }
        return { ok: r.ok, status: r.status, body: b };
      });
    });
  }

  // refusal shows why the API refused: its message in status, and the problems of a
  // refused journey (pointer, message, code) in list, if given.
  function refusal(status, list, res, what) {
    status.className = 'error';
    var msg = res.body && res.body.message ? res.body.message : 'HTTP ' + res.status;
    status.textContent = what + ': ' + msg;
    if (!list) return;
    clear(list);
    var ps = (res.body && res.body.problems) || [];
    if (!ps.length) return;
    var ul = h('ul');
    ps.forEach(function (p) {
      var li = h('li');
      li.appendChild(h('code', null, p.pointer || '/'));
      li.appendChild(document.createTextNode(' ' + p.message + ' (' + p.code + ')'));
      ul.appendChild(li);
    });
    list.appendChild(ul);
  }

  function journeyPage(name) { return '/admin/journeys/' + encodeURIComponent(name); }

  // save stores the document through the admin API: the next version of this journey
  // (If-Match on the version this page shows as current), or a new journey if the
  // document names another one. On success the page of the saved journey is loaded.
  function save() {
    var meta = $('versions').dataset;
    var text = $('doc').value;
    var status = $('try-status');
    status.className = '';
    status.textContent = 'Saving\u2026';
    clear($('save-problems'));
    var name = null;
    try { name = JSON.parse(text).name; } catch (e) { name = null; } // the API says what is wrong
    var call = name === meta.name
      ? adminAPI('PUT', '/journeys/' + encodeURIComponent(name), text, meta.head)
      : adminAPI('POST', '/journeys', text);
    call.then(function (res) {
      if (!res.ok) return refusal(status, $('save-problems'), res, 'Not saved');
      status.textContent = 'Saved as version ' + res.body.version + '.';
      window.location.assign(journeyPage(res.body.name));
    }).catch(function (err) {
      status.className = 'error';
      status.textContent = 'Could not save: ' + err.message;
    });
  }

  // makeCurrent rolls the journey back to the version of the clicked button: a new
  // version equal to it, If-Match on the current one.
  function makeCurrent(ev) {
    var meta = $('versions').dataset;
    var version = Number(ev.target.getAttribute('data-version'));
    var status = $('versions-status');
    status.className = '';
    status.textContent = 'Making version ' + version + ' current\u2026';
    adminAPI('POST', '/journeys/' + encodeURIComponent(meta.name) + '/rollback', JSON.stringify({ version: version }), meta.head)
      .then(function (res) {
        if (!res.ok) return refusal(status, null, res, 'Version ' + version + ' was not made current');
        status.textContent = 'Version ' + res.body.version + ' (a copy of ' + version + ') is now current.';
        window.location.assign(journeyPage(meta.name));
      }).catch(function (err) {
        status.className = 'error';
        status.textContent = 'Could not reach the server: ' + err.message;
      });
  }

  function init() {
    var data = $('graph-data');
    if (!data) return;
    if (typeof dagre === 'undefined') {
      $('problems').appendChild(h('p', { 'class': 'invalid' }, 'The layout library (dagre) did not load, so the graph cannot be drawn.'));
      return;
    }
    state.original = JSON.parse(data.textContent);
    render(state.original);
    $('panel-close').addEventListener('click', closeAndReturn);
    $('panel').addEventListener('keydown', function (ev) {
      if (ev.key === 'Escape') closeAndReturn();
    });
    $('validate').addEventListener('click', check);
    $('save').addEventListener('click', save);
    Array.prototype.forEach.call(document.querySelectorAll('button.make-current'), function (b) {
      b.addEventListener('click', makeCurrent);
    });
    $('reset').addEventListener('click', reset);
    // A zoom button is the user's choice of scale: later changes of space leave it be.
    $('zoom-in').addEventListener('click', function () { state.fitting = false; zoom(state.scale * 1.25); });
    $('zoom-out').addEventListener('click', function () { state.fitting = false; zoom(state.scale / 1.25); });
    $('zoom-fit').addEventListener('click', function () { state.fitting = true; fit(); });
    $('direction').addEventListener('click', function () {
      state.autoDir = false;
      state.rankdir = state.rankdir === 'TB' ? 'LR' : 'TB';
      directionLabel();
      paint(state.graph, state.layouts[state.rankdir]);
      fit();
    });
    var pending = 0;
    window.addEventListener('resize', function () {
      // One refit per frame, however many resize events the frame brings.
      if (pending) return;
      pending = window.requestAnimationFrame(function () { pending = 0; refit(); });
    });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
