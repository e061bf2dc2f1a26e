"""The live view's page (``posefast.video.view``): its HTML, style and script.

The page lists the sources that ``/stats.json`` names, each with its MJPEG picture
(``/stream/<id>.mjpg``) and a line of stats, polled twice a second. Source names
come from users: the server escapes them in the HTML, the script sets them as text,
and the Content-Security-Policy lets only this script and style run.
"""
from __future__ import annotations

import base64
import hashlib
import html

IMG = '<img src="stream/{id}.mjpg" alt="">'
CARD = ('<figure id="source-{id}">{img}'
        '<figcaption><b class="name">{name}</b><span class="stats"></span>'
        '</figcaption></figure>')

STYLE = """
body { margin: 0; padding: 12px; background: #111; color: #ddd; font: 14px sans-serif; }
h1 { font-size: 16px; margin: 0 0 8px; }
#state { color: #f88; }
#sources { display: grid; gap: 12px; align-items: start;
           grid-template-columns: repeat(auto-fill, minmax(min(100%, 480px), 1fr)); }
figure { margin: 0; background: #222; padding: 6px; min-width: 0; }
figure.stale img { opacity: 0.5; }
img { display: block; max-width: 100%; max-height: 85vh; height: auto; margin: 0 auto; }
figcaption { padding-top: 4px; }
.name { margin-right: 8px; word-break: break-all; }
.error { color: #f88; }
"""

SCRIPT = """
const grid = document.getElementById('sources');
const state = document.getElementById('state');
function num(v, digits, unit) {
  return v === null || v === undefined ? '-' : v.toFixed(digits) + unit;
}
function card(s) {
  const fig = document.createElement('figure');
  fig.id = 'source-' + s.id;
  const cap = document.createElement('figcaption');
  const name = document.createElement('b');
  name.className = 'name';
  name.textContent = s.source;
  const stats = document.createElement('span');
  stats.className = 'stats';
  cap.append(name, stats);
  fig.append(cap);
  return fig;
}
function picture(fig, s) {
  if (!s.picture || fig.querySelector('img')) return;
  const img = document.createElement('img');
  img.src = 'stream/' + s.id + '.mjpg';
  img.alt = '';
  fig.prepend(img);
}
function line(s) {
  const parts = ['frame ' + (s.frame === null ? '-' : s.frame),
                 s.people + (s.people === 1 ? ' person' : ' people')];
  if (s.tracks.length) parts.push('tracks ' + s.tracks.join(', '));
  parts.push(num(s.posed_fps, 1, ' fps posed'), num(s.dropped_fps, 1, ' fps dropped'),
             'latency ' + num(s.latency === null ? null : s.latency * 1000, 0, ' ms'));
  if (s.stale) parts.push('no frame for ' + s.age.toFixed(0) + ' s');
  return parts.join(' \\u00b7 ');
}
async function poll() {
  let wait = 500;
  try {
    const response = await fetch('stats.json', {cache: 'no-store'});
    const data = await response.json();
    state.textContent = '';
    for (const s of data.sources) {
      let fig = document.getElementById('source-' + s.id);
      if (!fig) { fig = card(s); grid.append(fig); }
      picture(fig, s);
      const stats = fig.querySelector('.stats');
      stats.textContent = s.error ? s.error : line(s);
      stats.classList.toggle('error', !!s.error);
      fig.classList.toggle('stale', s.stale);
    }
  } catch (e) {
    state.textContent = 'the live view has stopped (the job has ended?)';
    wait = 2000;
  }
  setTimeout(poll, wait);
}
poll();
"""


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


# Only the page's own script and style run: a source name that escaped escaping
# still could not run anything.
CSP = (f"default-src 'none'; img-src 'self'; connect-src 'self'; "
       f"script-src {_csp_hash(SCRIPT)}; style-src {_csp_hash(STYLE)}")

PAGE = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width\">"
        "<title>posefast live view</title><style>" + STYLE + "</style></head>\n"
        "<body><h1>posefast live view</h1><p id=\"state\"></p>"
        "<div id=\"sources\">{cards}</div><script>" + SCRIPT + "</script></body></html>\n")


def page(cards: list[tuple[int, str, bool]]) -> bytes:
    """The page for sources ``(id, name, picture)``: with its MJPEG picture where
    ``picture``; names escaped."""
    return PAGE.replace("{cards}", "".join(
        CARD.format(id=i, name=html.escape(name), img=IMG.format(id=i) if picture else "")
        for i, name, picture in cards)).encode()
