// What the player pages share: which engine plays which playlist, and errors in words. Used by the
// page `lambda-hls serve` shows (cli/player-page.ts) and by the hosted page of a deployed video
// (`GET /watch/<videoId>` on the playback API, served by serve-segment).
//
// The choice: a segment request to the redirect playlist is answered with a 302 to the package's
// signed URL. Where that URL is on another origin that sends no CORS headers (AWS's code bucket),
// only a player that reads media outside the page's fetch can follow it: Apple's native HLS
// (Safari, iOS). Every other browser player — hls.js, and Chromium's own HLS player — is refused
// the bytes, so it gets the proxied playlist: the same text, served by the delivery route, whose
// segment answers carry the bytes with CORS. Where the package URLs send CORS (the local server),
// the redirect playlist plays everywhere.

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
    var viaRedirect = !cross || (engine === 'native' && apple);
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
  // Finished. An error said stays said.
  function follow(el, say, failed) {
    var started = false;
    el.onwaiting = function () { if (started && !failed()) say('Buffering…', false); };
    el.onplaying = function () { started = true; if (!failed()) say('Playing.', false); };
    el.onended = function () { if (!failed()) say('Finished.', false); };
  }
  window.LambdaHlsPlayer = { attach: attach, choose: choose, describe: describe, statusLine: statusLine, follow: follow };
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

/** The hosted page of one video: the shareable link `convert --stage` prints. */
export function watchPage(video: WatchPageVideo, hlsScriptPath: string, codeCrossOrigin: boolean): string {
  const media =
    video.kind === 'audio'
      ? '<audio id="media" controls preload="auto"></audio>'
      : '<video id="media" controls playsinline preload="auto"></video>';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(video.name)}</title>
<style>
  :root { font-family: system-ui, sans-serif; color: #1d2330; background: #f5f6f8; }
  body { margin: 0 auto; max-width: 960px; padding: 24px; }
  h1 { font-size: 1.2rem; margin: 0 0 12px; overflow-wrap: anywhere; }
  video, audio { width: 100%; border-radius: 6px; }
  video { background: #000; }
  #status { margin-top: 8px; font-size: .9rem; color: #555; min-height: 1.2em; }
  #status.error { color: #b00020; font-weight: 600; }
  details { margin-top: 16px; font-size: .85rem; color: #555; }
  code { background: #e8eaef; padding: 1px 4px; border-radius: 4px; overflow-wrap: anywhere; }
</style>
</head>
<body>
<h1>${escapeHtml(video.name)}</h1>
${media}
<div id="status" role="status" aria-live="polite"></div>
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
  window.LambdaHlsPlayer.follow(el, say, function () { return state.fatal !== null; });
  state.choice = window.LambdaHlsPlayer.attach(el, video, {
    codeCrossOrigin: ${codeCrossOrigin}, force: force, say: say, onFatal: function (code) { state.fatal = code; }
  });
  if (state.choice) {
    say('Loading…', false);
    var p = el.play();
    if (p && p.catch) p.catch(function () { say('Press play to start.', false); });
  }
  state.ready = true;
})();
</script>
</body>
</html>
`;
}
