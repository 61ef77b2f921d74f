// What the player pages share: which engine plays which playlist, and errors in words. Used by the
// page `lambda-hls serve` shows (cli/player-page.ts) and by the hosted page of a deployed video
// (`GET /watch/<videoId>` on the playback API, served by serve-segment).
//
// The choice: a segment request to the redirect playlist is answered with a 302 to the package's
// signed URL. Where that URL is on another origin that sends no CORS headers (AWS's code bucket),
// only a player that reads media outside the page's fetch can follow it: Apple's native HLS
// (Safari, iOS). Every other browser player — hls.js, and Chromium's own HLS player — is refused
// the bytes, so it gets the proxied playlist: the same text, served by the delivery route, whose
// segment answers carry the bytes with CORS. Apple's HLS authoring 8.18 says media requests MUST
// NOT be redirected, so Safari gets the proxied playlist too, unless the operator chose the
// redirect playlist for it (param appleRedirects: no Lambda time per segment). Where the package
// URLs send CORS (the local server), the redirect playlist plays everywhere.

/** Where both pages load hls.js from (their own origin). */
export const HLS_SCRIPT_PATH = '/player/hls.min.js';

/** The playback choice as a script, defining `window.LambdaHlsPlayer.attach`. */
export const PLAYER_SCRIPT = `
(function () {
  var HLS_TYPE = 'application/vnd.apple.mpegurl';
  function describe(data) {
    var kinds = {
      networkError: 'The stream could not be downloaded',
      mediaError: 'The browser could not decode the stream',
      muxError: 'The segments could not be read',
      keySystemError: 'The stream is encrypted',
      otherError: 'Playback failed'
    };
    var text = (kinds[data.type] || 'Playback failed') + ' (' + data.details + ')';
    if (data.response && data.response.code) text += ': HTTP ' + data.response.code;
    return text + '.';
  }
  function describeMedia(el) {
    var codes = { 1: 'playback was aborted', 2: 'the stream could not be downloaded', 3: 'the stream could not be decoded', 4: 'the stream or its segments were refused' };
    var code = el.error ? el.error.code : 0;
    return 'The browser could not play this stream' + (codes[code] ? ': ' + codes[code] : '') + (code ? ' (code ' + code + ')' : '') + '.';
  }
  // Which engine plays which playlist (see src/web/player.ts). force: 'native' or 'hls.js' (?engine=).
  function choose(el, v, opts) {
    var native = !!el.canPlayType(HLS_TYPE);
    var mse = !!(window.Hls && window.Hls.isSupported());
    var apple = /Apple/.test(navigator.vendor || '');
    var cross = !!opts.codeCrossOrigin && !!v.proxiedPlaylist;
    var engine = opts.force === 'native' && native ? 'native'
      : opts.force === 'hls.js' && mse ? 'hls.js'
      : native && (apple || !mse) ? 'native'
      : mse ? 'hls.js' : null;
    if (!engine) return null;
    // Apple's HLS authoring 8.18: no redirected media requests, so Safari too gets the delivery
    // route, unless the operator chose the redirect playlist for Apple (opts.appleRedirects).
    var viaRedirect = !cross || (engine === 'native' && apple && !!opts.appleRedirects);
    return { engine: engine, source: viaRedirect ? 'redirect' : 'proxied', playlist: viaRedirect ? v.playlist : v.proxiedPlaylist };
  }
  // Plays v on el; reports through opts.say(text, isError) and opts.onFatal(code). Returns the choice, with destroy().
  function attach(el, v, opts) {
    var choice = choose(el, v, opts);
    if (!choice) {
      opts.say('This browser cannot play HLS: it has neither Media Source Extensions nor native HLS.', true);
      return null;
    }
    var hls = null;
    el.onerror = function () {
      if (hls) return;
      // Native HLS refused the redirect's bytes: try the delivery route once before giving up.
      if (choice.source === 'redirect' && v.proxiedPlaylist && opts.codeCrossOrigin && !choice.retried) {
        choice.retried = true; choice.source = 'proxied'; choice.playlist = v.proxiedPlaylist;
        el.src = v.proxiedPlaylist; el.play();
        return;
      }
      opts.onFatal('media:' + (el.error ? el.error.code : 0));
      opts.say(describeMedia(el), true);
    };
    if (choice.engine === 'hls.js') {
      hls = new window.Hls();
      hls.on(window.Hls.Events.ERROR, function (_event, data) {
        if (data.fatal) { opts.onFatal(data.type + ':' + data.details); opts.say(describe(data), true); }
      });
      hls.loadSource(choice.playlist);
      hls.attachMedia(el);
    } else {
      el.src = choice.playlist;
    }
    choice.hls = hls;
    choice.destroy = function () {
      el.onerror = null;
      if (hls) hls.destroy();
      else { el.removeAttribute('src'); el.load(); }
    };
    return choice;
  }
  // What a page's status line says: text, shown as an error or not.
  function statusLine(line) {
    return function (text, isError) { line.textContent = text; line.className = isError ? 'error' : ''; };
  }
  // What the element is doing, in the status line: Buffering… while it waits for data it has not got
  // (a stall, or a seek not yet filled; before the first frame the page's Loading… stays), Playing.,
  // Paused., Finished. An error said stays said.
  // With a ladder, the rung playing goes after it: "Playing · 720p (auto)." rung() names it, or ''.
  function follow(el, say, failed, rung) {
    var started = false, playing = false;
    var at = function () { var r = rung ? rung() : ''; return r ? ' · ' + r : ''; };
    el.onwaiting = function () { playing = false; if (started && !failed()) say('Buffering…' + at(), false); };
    el.onplaying = function () { started = true; playing = true; if (!failed()) say('Playing' + at() + '.', false); };
    // (At the end the element pauses, then ends: Finished. follows.)
    el.onpause = function () { playing = false; if (started && !el.ended && !failed()) say('Paused' + at() + '.', false); };
    el.onended = function () { playing = false; if (!failed()) say('Finished.', false); };
    // Said again when hls.js switches rungs while it plays.
    return function () { if (playing && !failed()) say('Playing' + at() + '.', false); };
  }
  // A rung's name as the ladder's (its short side): 720p, a portrait one's too.
  function rungName(level) { return Math.min(level.width || 0, level.height || 0) + 'p'; }
  // The quality menu of an hls.js choice: Auto and each rung, from the top; choosing one holds it
  // (hls.js's ABR picks again on Auto). Hidden with one rung or native HLS (Safari picks itself).
  // onSwitch() is called when the rung playing changes. Returns what the status says of the rung.
  function qualities(choice, select, onSwitch) {
    var hls = choice && choice.hls, Hls = window.Hls;
    select.hidden = true;
    if (!hls) return function () { return ''; };
    var playing = -1;
    hls.on(Hls.Events.MANIFEST_PARSED, function () {
      select.innerHTML = '';
      if (hls.levels.length < 2) return;
      var add = function (label, value) {
        var o = document.createElement('option'); o.textContent = label; o.value = String(value); select.appendChild(o);
      };
      add('Auto', -1);
      hls.levels.map(function (l, i) { return { l: l, i: i }; })
        .sort(function (a, b) { return b.l.bitrate - a.l.bitrate; })
        .forEach(function (x) { add(rungName(x.l) + ' · ' + Math.round(x.l.bitrate / 1000) + ' kbit/s', x.i); });
      select.value = '-1';
      select.hidden = false;
    });
    select.onchange = function () { hls.currentLevel = Number(select.value); };
    hls.on(Hls.Events.LEVEL_SWITCHED, function (_e, data) { playing = data.level; onSwitch(); });
    return function () {
      var level = hls.levels[playing];
      if (!level || hls.levels.length < 2) return '';
      return rungName(level) + (hls.autoLevelEnabled ? ' (auto)' : '');
    };
  }
  // Captions for a native engine that shows no subtitle renditions of its own (Chromium's built-in
  // HLS; Safari shows them, as the element's text tracks, and gets nothing added): each track whole,
  // as a <track> of the element, once its metadata is there. hls.js shows the renditions itself.
  function nativeCaptions(el, choice, captions) {
    if (!choice || choice.engine === 'hls.js' || !captions || captions.length === 0) return;
    el.addEventListener('loadedmetadata', function () {
      if (el.textTracks.length > 0) return;
      captions.forEach(function (c) {
        var track = document.createElement('track');
        track.kind = 'subtitles'; track.label = c.name; track.src = c.src;
        if (c.language !== 'und') track.srclang = c.language;
        el.appendChild(track);
      });
    }, { once: true });
  }
  // A storyboard's WebVTT track (src/core/previews.ts): its cues, each a tile's rectangle of a sprite.
  function parseStoryboard(text, base) {
    var cues = [], lines = text.split(/\\r?\\n/);
    var seconds = function (t) {
      var p = t.trim().split(':').map(Number);
      return p.length === 3 ? p[0] * 3600 + p[1] * 60 + p[2] : p[0] * 60 + p[1];
    };
    for (var i = 0; i < lines.length; i++) {
      var m = /^(\\S+)\\s+-->\\s+(\\S+)/.exec(lines[i]);
      var ref = m && /^(.*)#xywh=(\\d+),(\\d+),(\\d+),(\\d+)$/.exec((lines[i + 1] || '').trim());
      if (!ref) continue;
      cues.push({ start: seconds(m[1]), end: seconds(m[2]), url: new URL(ref[1], base).href,
        x: +ref[2], y: +ref[3], w: +ref[4], h: +ref[5] });
    }
    return cues;
  }
  // The scrub bar under the picture: where the pointer is, the storyboard's tile for that moment and
  // the time, above it; pressing or dragging seeks there. Returns the bar's state ({ cues, at(t) }).
  function scrubber(el, bar, fill, box, label, url) {
    var state = { cues: [], shown: null };
    var format = function (t) {
      var m = Math.floor(t / 60), s = Math.floor(t % 60);
      return m + ':' + (s < 10 ? '0' : '') + s;
    };
    state.at = function (t) {
      for (var i = 0; i < state.cues.length; i++) if (t >= state.cues[i].start && t < state.cues[i].end) return state.cues[i];
      return state.cues[state.cues.length - 1] || null;
    };
    var duration = function () { return isFinite(el.duration) && el.duration > 0 ? el.duration : 0; };
    var timeAt = function (event) {
      var r = bar.getBoundingClientRect();
      return Math.max(0, Math.min(1, (event.clientX - r.left) / r.width)) * duration();
    };
    var show = function (event) {
      var d = duration();
      if (!d) return;
      var t = timeAt(event), cue = state.at(t), r = bar.getBoundingClientRect();
      label.textContent = format(t);
      if (cue) {
        box.style.width = cue.w + 'px'; box.style.height = cue.h + 'px';
        box.style.backgroundImage = 'url("' + cue.url + '")';
        box.style.backgroundPosition = -cue.x + 'px ' + -cue.y + 'px';
      }
      var w = cue ? cue.w : 48;
      box.style.left = Math.max(0, Math.min(r.width - w, (t / d) * r.width - w / 2)) + 'px';
      box.hidden = false;
      state.shown = { time: t, cue: cue };
    };
    var dragging = false;
    bar.addEventListener('pointermove', function (e) { show(e); if (dragging) el.currentTime = timeAt(e); });
    bar.addEventListener('pointerdown', function (e) {
      dragging = true; bar.setPointerCapture && bar.setPointerCapture(e.pointerId); show(e); el.currentTime = timeAt(e);
    });
    bar.addEventListener('pointerup', function () { dragging = false; });
    bar.addEventListener('pointerleave', function () { if (!dragging) { box.hidden = true; state.shown = null; } });
    el.addEventListener('timeupdate', function () {
      var d = duration();
      fill.style.width = (d ? (100 * el.currentTime) / d : 0) + '%';
    });
    bar.hidden = false;
    // Fetched once the first frame is there or the pointer reaches the bar: never before the first segment.
    var loading = false;
    var load = function () {
      if (loading || !url) return;
      loading = true;
      fetch(url).then(function (r) { return r.ok ? r.text() : ''; }).then(function (text) {
        state.cues = parseStoryboard(text, new URL(url, location.href).href);
      }).catch(function () { state.cues = []; });
    };
    el.addEventListener('loadeddata', load);
    bar.addEventListener('pointerenter', load);
    if (el.readyState >= 2) load();
    return state;
  }
  window.LambdaHlsPlayer = { attach: attach, choose: choose, describe: describe, statusLine: statusLine, follow: follow, qualities: qualities, scrubber: scrubber, parseStoryboard: parseStoryboard, nativeCaptions: nativeCaptions };
})();
`;

export interface WatchPageVideo {
  videoId: string;
  name: string;
  kind: 'video' | 'audio';
  durationSeconds: number;
  /** The redirect playlist (302s to the package URLs), on the page's origin. */
  playlist: string;
  /** The same playlist on the delivery route, whose segment answers carry the bytes with CORS. */
  proxiedPlaylist: string;
  /** Its poster (on the page's origin), when it has one. */
  poster?: string | undefined;
  /** Its storyboard's WebVTT track, for the preview while scrubbing. */
  storyboard?: string | undefined;
  /** Its subtitle renditions' whole tracks (on the page's origin), for a native engine that does not show the renditions. */
  captions?: { language: string; name: string; src: string }[] | undefined;
}

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON safe inside a <script> element. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/**
 * The tags a link preview reads (Open Graph, as Slack, iMessage, Facebook and LinkedIn do; Twitter's
 * card): the title, and the poster by its absolute URL when the page knows its own origin.
 */
function previewTags(video: WatchPageVideo, origin: string | undefined): string {
  const tags = [
    ['og:type', 'video.other'],
    ['og:title', video.name],
    ...(video.poster && origin ? [['og:image', new URL(video.poster, origin).href]] : []),
    ['twitter:card', video.poster && origin ? 'summary_large_image' : 'summary'],
  ];
  return tags.map(([property, content]) => `<meta property="${property}" content="${escapeHtml(content!)}">`).join('\n');
}

/** The hosted page of one video: the shareable link `convert --stage` prints. */
export function watchPage(
  video: WatchPageVideo,
  hlsScriptPath: string,
  codeCrossOrigin: boolean,
  appleRedirects = false,
  origin?: string,
): string {
  const media =
    video.kind === 'audio'
      ? '<audio id="media" controls preload="auto"></audio>'
      : `<video id="media" controls playsinline preload="auto"></video>
<div id="scrub" class="scrub" hidden><div id="scrub-fill"></div><div id="preview" hidden><span id="preview-time"></span></div></div>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(video.name)}</title>
${previewTags(video, origin)}
<style>
  :root { font-family: system-ui, sans-serif; color: #1d2330; background: #f5f6f8; }
  body { margin: 0 auto; max-width: 960px; padding: 24px; }
  h1 { font-size: 1.2rem; margin: 0 0 12px; overflow-wrap: anywhere; }
  video, audio { width: 100%; border-radius: 6px; }
  video { background: #000; }
  .bar { display: flex; gap: 12px; align-items: center; justify-content: space-between; margin-top: 8px; }
  #status { font-size: .9rem; color: #555; min-height: 1.2em; }
  #quality { font: inherit; font-size: .85rem; }
  #status.error { color: #b00020; font-weight: 600; }
  .scrub { position: relative; height: 10px; margin-top: 6px; background: #d5d9e0; border-radius: 5px; cursor: pointer; touch-action: none; }
  #scrub-fill { height: 100%; width: 0; background: #3b6fd8; border-radius: 5px; pointer-events: none; }
  #preview { position: absolute; bottom: 16px; min-width: 48px; min-height: 20px; background: #000 no-repeat; border: 2px solid #fff; border-radius: 4px; box-shadow: 0 2px 8px rgba(0,0,0,.4); pointer-events: none; }
  #preview-time { position: absolute; bottom: 2px; left: 0; right: 0; text-align: center; color: #fff; font-size: .75rem; text-shadow: 0 1px 2px #000; }
  details { margin-top: 16px; font-size: .85rem; color: #555; }
  code { background: #e8eaef; padding: 1px 4px; border-radius: 4px; overflow-wrap: anywhere; }
</style>
</head>
<body>
<h1>${escapeHtml(video.name)}</h1>
${media}
<div class="bar"><div id="status" role="status" aria-live="polite"></div><select id="quality" aria-label="Quality" hidden></select></div>
<details><summary>Play it elsewhere</summary>
<p>VLC, ffmpeg, Safari and apps: <code>${escapeHtml(video.playlist)}</code></p>
<p>Web players on other pages (CORS): <code>${escapeHtml(video.proxiedPlaylist)}</code></p>
</details>
<script src="${escapeHtml(hlsScriptPath)}"></script>
<script>${PLAYER_SCRIPT}</script>
<script>
(function () {
  var video = ${scriptJson(video)};
  var el = document.getElementById('media');
  var state = { fatal: null, element: el, video: video };
  window.lambdaHls = state;
  var say = window.LambdaHlsPlayer.statusLine(document.getElementById('status'));
  var force = new URLSearchParams(location.search).get('engine') || '';
  // Absolute, so a playlist on this origin resolves as the player fetches it.
  video.playlist = new URL(video.playlist, location.href).href;
  var rung = function () { return state.rung ? state.rung() : ''; };
  var switched = window.LambdaHlsPlayer.follow(el, say, function () { return state.fatal !== null; }, rung);
  state.choice = window.LambdaHlsPlayer.attach(el, video, {
    codeCrossOrigin: ${codeCrossOrigin}, appleRedirects: ${appleRedirects}, force: force, say: say, onFatal: function (code) { state.fatal = code; }
  });
  state.rung = window.LambdaHlsPlayer.qualities(state.choice, document.getElementById('quality'), switched);
  window.LambdaHlsPlayer.nativeCaptions(el, state.choice, video.captions);
  var bar = document.getElementById('scrub');
  if (bar && state.choice) {
    state.scrub = window.LambdaHlsPlayer.scrubber(el, bar, document.getElementById('scrub-fill'), document.getElementById('preview'),
      document.getElementById('preview-time'), video.storyboard || '');
  }
  // The poster is shown while the page waits for a press of play (?autoplay=0, or autoplay refused).
  // Not when it plays by itself: on a slow link the poster's bytes came before the first segment's
  // and delayed the first frame (1.5 Mbit/s: 8.6 s, over the ladder's 8-s goal).
  var waitForPlay = function () {
    if (video.poster && el.tagName === 'VIDEO') el.poster = video.poster;
    say('Press play to start.', false);
  };
  if (state.choice && new URLSearchParams(location.search).get('autoplay') === '0') waitForPlay();
  else if (state.choice) {
    say('Loading…', false);
    var p = el.play();
    if (p && p.catch) p.catch(waitForPlay);
  }
  state.ready = true;
})();
</script>
</body>
</html>
`;
}
