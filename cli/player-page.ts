// The page `lambda-hls serve` shows at /: every converted video, and a player (hls.js from npm,
// served by us; native HLS where the browser has it). Which engine plays which playlist is the
// hosted page's choice too (src/web/player.ts): when the package URLs are on an origin without
// CORS, web players get the proxied playlist.
import { HLS_SCRIPT_PATH, PLAYER_SCRIPT, scriptJson } from '../src/web/player';

export interface PlayerPageOptions {
  /** The package URLs are on another origin that sends no CORS headers (as AWS's code bucket). */
  codeCrossOrigin: boolean;
}

export function playerPage(options: PlayerPageOptions = { codeCrossOrigin: false }): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>lambda-hls</title>
<style>
  :root { font-family: system-ui, sans-serif; color: #1d2330; background: #f5f6f8; }
  body { margin: 0 auto; max-width: 980px; padding: 24px; }
  h1 { font-size: 1.4rem; margin: 0 0 4px; }
  p.lead { margin: 0 0 20px; color: #555; }
  main { display: grid; grid-template-columns: 1fr 320px; gap: 20px; align-items: start; }
  video, audio { width: 100%; background: #000; border-radius: 6px; }
  audio { background: transparent; }
  #stage { background: #fff; border-radius: 8px; padding: 14px; box-shadow: 0 1px 3px #0002; }
  #title { font-weight: 600; margin: 0 0 8px; min-height: 1.2em; }
  .bar { display: flex; gap: 12px; align-items: center; justify-content: space-between; margin-top: 8px; }
  #status { font-size: .9rem; color: #555; min-height: 1.2em; }
  #quality { font: inherit; font-size: .85rem; }
  #status.error { color: #b00020; font-weight: 600; }
  ul { list-style: none; margin: 0; padding: 0; }
  li button { width: 100%; text-align: left; border: 0; background: #fff; border-radius: 8px; padding: 10px 12px;
    margin-bottom: 8px; cursor: pointer; box-shadow: 0 1px 3px #0002; font: inherit; }
  li button[aria-current="true"] { outline: 2px solid #3366ff; }
  .name { font-weight: 600; display: block; overflow-wrap: anywhere; }
  .meta { font-size: .85rem; color: #666; }
  .empty { color: #666; }
  code { background: #e8eaef; padding: 1px 4px; border-radius: 4px; }
  @media (max-width: 760px) { main { grid-template-columns: 1fr; } }
</style>
</head>
<body>
<h1>lambda-hls</h1>
<p class="lead">HLS streams whose segments are byte ranges inside Lambda code packages. Each segment request is answered with a 302 to a signed package URL.</p>
<main>
  <section id="stage">
    <p id="title">Choose a video</p>
    <video id="video" controls playsinline hidden></video>
    <audio id="audio" controls hidden></audio>
    <div class="bar"><div id="status" role="status" aria-live="polite"></div><select id="quality" aria-label="Quality" hidden></select></div>
  </section>
  <aside><ul id="videos"><li class="empty">Loading…</li></ul></aside>
</main>
<script src="${HLS_SCRIPT_PATH}"></script>
<script>${PLAYER_SCRIPT}</script>
<script>
(function () {
  var options = ${scriptJson(options)};
  var force = new URLSearchParams(location.search).get('engine') || '';
  var list = document.getElementById('videos');
  var title = document.getElementById('title');
  var hls = null;
  var state = { fatal: null, videos: [] };
  window.lambdaHls = state;

  var say = window.LambdaHlsPlayer.statusLine(document.getElementById('status'));
  function duration(s) {
    var m = Math.floor(s / 60), r = Math.round(s - m * 60);
    if (r === 60) { m += 1; r = 0; }
    return m + ':' + String(r).padStart(2, '0');
  }
  function play(v, button) {
    Array.prototype.forEach.call(list.querySelectorAll('button'), function (b) { b.removeAttribute('aria-current'); });
    if (button) button.setAttribute('aria-current', 'true');
    if (hls) { hls.destroy(); hls = null; }
    state.fatal = null;
    var video = document.getElementById('video'), audio = document.getElementById('audio');
    var el = v.kind === 'audio' ? audio : video;
    (v.kind === 'audio' ? video : audio).hidden = true;
    (v.kind === 'audio' ? video : audio).pause();
    el.hidden = false;
    // Its poster until the first frame (none for a sound file, or a video converted before posters).
    if (v.kind !== 'audio') { if (v.poster) el.poster = v.poster; else el.removeAttribute('poster'); }
    title.textContent = v.name;
    state.current = v.videoId;
    state.element = el;
    say('Loading ' + v.segments + ' segments…', false);
    var switched = window.LambdaHlsPlayer.follow(el, say, function () { return state.fatal !== null; }, function () {
      return state.rung ? state.rung() : '';
    });
    state.rung = null;
    hls = window.LambdaHlsPlayer.attach(el, v, {
      codeCrossOrigin: options.codeCrossOrigin, force: force, say: say, onFatal: function (code) { state.fatal = code; }
    });
    state.choice = hls;
    state.rung = window.LambdaHlsPlayer.qualities(hls, document.getElementById('quality'), switched);
    if (!hls) return;
    var p = el.play();
    if (p && p.catch) p.catch(function () { say('Press play to start.', false); });
  }
  function render(videos) {
    state.videos = videos;
    list.innerHTML = '';
    if (videos.length === 0) {
      list.innerHTML = '<li class="empty">No videos yet. Convert one with <code>lambda-hls convert clip.mp4</code>.</li>';
      return;
    }
    videos.forEach(function (v) {
      var li = document.createElement('li'), b = document.createElement('button');
      var name = document.createElement('span'), meta = document.createElement('span');
      name.className = 'name'; name.textContent = v.name;
      meta.className = 'meta';
      meta.textContent = (v.kind === 'audio' ? 'audio' : 'video') + ' · ' + duration(v.durationSeconds) + ' · ' +
        v.segments + ' segment' + (v.segments === 1 ? '' : 's') + ' · ' + v.packages + ' package' + (v.packages === 1 ? '' : 's');
      b.dataset.videoId = v.videoId;
      b.appendChild(name); b.appendChild(meta);
      b.onclick = function () { play(v, b); };
      li.appendChild(b); list.appendChild(li);
    });
  }
  state.play = function (videoId) {
    var v = state.videos.filter(function (x) { return x.videoId === videoId; })[0];
    if (v) play(v, list.querySelector('[data-video-id="' + videoId + '"]'));
    return !!v;
  };
  fetch('/api/videos').then(function (r) {
    if (!r.ok) throw new Error('HTTP ' + r.status);
    return r.json();
  }).then(function (videos) {
    render(videos);
    state.ready = true;
  }).catch(function (e) {
    list.innerHTML = '';
    say('Could not list the videos: ' + e.message, true);
  });
})();
</script>
</body>
</html>
`;
}
